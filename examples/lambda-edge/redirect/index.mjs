// A viewer-request Lambda@Edge function (an ES module): permanent redirects for moved pages,
// answered at the edge without going to the origin. Everything else passes unchanged.
const MOVED = {
  '/old': '/new',
  '/blog': '/articles/',
};

export const handler = async (event) => {
  const request = event.Records[0].cf.request;
  const target = MOVED[request.uri];
  if (target === undefined) return request;
  const query = request.querystring ? `?${request.querystring}` : '';
  return {
    status: '301',
    statusDescription: 'Moved Permanently',
    headers: {
      location: [{ key: 'Location', value: `${target}${query}` }],
      'cache-control': [{ key: 'Cache-Control', value: 'max-age=3600' }],
    },
  };
};
