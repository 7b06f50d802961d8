// API Gateway (REST or HTTP API) proxy handler: GET /greeting?name=Ada -> {"message": "Hello, Ada!"}.
// API Gateway sends queryStringParameters: null when the URL has no query string.
const MAX_NAME_LENGTH = 64;

const response = (statusCode, payload) => ({
  statusCode,
  headers: { "Content-Type": "application/json" },
  isBase64Encoded: false,
  body: JSON.stringify(payload),
});

exports.handler = async (event) => {
  const params = (event && event.queryStringParameters) || {};
  const name = typeof params.name === "string" && params.name.trim() ? params.name.trim() : "Guest";
  if (name.length > MAX_NAME_LENGTH) {
    return response(400, { message: `name must be at most ${MAX_NAME_LENGTH} characters` });
  }
  return response(200, { message: `Hello, ${name}!` });
};
