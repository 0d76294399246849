// The article's plain-JS Lambda@Edge handler, the baseline of the benchmarks: a module-level
// variable set on the first invocation and one header.
let dataToPersist;

export const handler = async (event) => {
  const request = event.Records[0].cf.request;
  if (!dataToPersist) dataToPersist = new Date().toISOString();
  request.headers.custom_header = [{ key: 'custom_header', value: dataToPersist }];
  return request;
};
