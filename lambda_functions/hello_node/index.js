// The smallest Node.js function: proves a deploy and an invoke work end to end.
exports.handler = async () => ({ statusCode: 200, body: "Hello, AWS Lambda!" });
