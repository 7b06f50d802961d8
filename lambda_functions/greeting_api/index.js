// HTTP into Lambda (API Gateway REST API: payload 1.0; HTTP API and function URL: payload 2.0).
//   GET  /greeting?name=Ada                    -> 200 {"message": "Hello, Ada!"}
//   POST /greeting  {"name": "Ada"}            -> the same, from a JSON body
//   Accept-Language: fr (or de)                -> "Bonjour, Ada!" ("Hallo, Ada!")
//   POST /greeting  with any non-JSON body     -> 200, the bytes sent back as they came (base64 both ways)
//   a name over 64 characters, or bad JSON     -> 400 {"message": "..."}
// API Gateway sends queryStringParameters: null (1.0) or leaves it out (2.0) without a query string.
const MAX_NAME_LENGTH = 64;
const GREETINGS = { en: "Hello", fr: "Bonjour", de: "Hallo" };

const json = (statusCode, payload) => ({
  statusCode,
  headers: { "Content-Type": "application/json" },
  isBase64Encoded: false,
  body: JSON.stringify(payload),
});

const lowerCaseKeys = (headers) =>
  Object.fromEntries(Object.entries(headers || {}).map(([key, value]) => [key.toLowerCase(), value]));

const language = (headers) => {
  const wanted = String(headers["accept-language"] || "en").split(",")[0].trim().slice(0, 2).toLowerCase();
  return GREETINGS[wanted] ? wanted : "en";
};

const greet = (name, headers) => {
  const trimmed = typeof name === "string" && name.trim() ? name.trim() : "Guest";
  if (trimmed.length > MAX_NAME_LENGTH) {
    return json(400, { message: `name must be at most ${MAX_NAME_LENGTH} characters` });
  }
  return json(200, { message: `${GREETINGS[language(headers)]}, ${trimmed}!` });
};

exports.handler = async (event) => {
  const request = event || {};
  const headers = lowerCaseKeys(request.headers);
  const method = request.httpMethod || (request.requestContext && request.requestContext.http || {}).method || "GET";
  if (method !== "POST" || request.body == null) {
    return greet((request.queryStringParameters || {}).name, headers);
  }
  const body = Buffer.from(request.body, request.isBase64Encoded ? "base64" : "utf8");
  const contentType = String(headers["content-type"] || "").split(";")[0].trim().toLowerCase();
  if (contentType !== "application/json") {
    return {
      statusCode: 200,
      headers: { "Content-Type": contentType || "application/octet-stream" },
      isBase64Encoded: true,
      body: body.toString("base64"),
    };
  }
  let document;
  try {
    document = JSON.parse(body.toString("utf8"));
  } catch (error) {
    return json(400, { message: 'the body must be JSON like {"name": "Ada"}' });
  }
  return greet(document && document.name, headers);
};
