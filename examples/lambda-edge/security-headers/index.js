// An origin-response Lambda@Edge function (CommonJS, callback style): adds the usual security
// headers to every response from the origin before CloudFront caches it.
'use strict';

const SECURITY_HEADERS = {
  'strict-transport-security': ['Strict-Transport-Security', 'max-age=63072000; includeSubDomains; preload'],
  'x-content-type-options': ['X-Content-Type-Options', 'nosniff'],
  'x-frame-options': ['X-Frame-Options', 'DENY'],
  'referrer-policy': ['Referrer-Policy', 'same-origin'],
};

exports.handler = (event, context, callback) => {
  const response = event.Records[0].cf.response;
  for (const [name, [key, value]] of Object.entries(SECURITY_HEADERS)) {
    response.headers[name] = [{ key, value }];
  }
  callback(null, response);
};
