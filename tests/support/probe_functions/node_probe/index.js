// Handlers that exercise the Lambda contract on the local Node.js runtime; one zip, many Handler names.
let invocations = 0;

exports.echo = async (event) => event;

exports.counter = async (event, context) => {
  invocations += 1;
  console.log(`invocation ${invocations}`);
  return { invocations, requestId: context.awsRequestId };
};

exports.callback = (event, context, callback) => {
  setTimeout(() => callback(null, { style: "callback", got: event }), 5);
};

exports.contextView = async (event, context) => ({
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  invokedFunctionArn: context.invokedFunctionArn,
  memoryLimitInMB: context.memoryLimitInMB,
  remainingMs: context.getRemainingTimeInMillis(),
});

exports.environment = async (event) => Object.fromEntries(event.keys.map((k) => [k, process.env[k] ?? null]));

exports.fail = async (event) => {
  throw new TypeError(`bad order ${event.order_id}`);
};

exports.sleep = async (event) => {
  console.log("sleeping", event.seconds);
  await new Promise((resolve) => setTimeout(resolve, event.seconds * 1000));
  return { slept: event.seconds };
};

exports.s3AndDynamodb = async (event, context) => {
  const { S3Client, PutObjectCommand, GetObjectCommand } = require("@aws-sdk/client-s3");
  const { DynamoDBClient, PutItemCommand, GetItemCommand } = require("@aws-sdk/client-dynamodb");
  const s3 = new S3Client({ forcePathStyle: true });
  const ddb = new DynamoDBClient({});
  await s3.send(new PutObjectCommand({ Bucket: event.bucket, Key: "from-node.txt", Body: "written by node" }));
  await ddb.send(
    new PutItemCommand({
      TableName: event.table,
      Item: { pk: { S: "from-node" }, source: { S: context.functionName } },
    }),
  );
  const object = await s3.send(new GetObjectCommand({ Bucket: event.bucket, Key: "from-node.txt" }));
  const item = await ddb.send(new GetItemCommand({ TableName: event.table, Key: { pk: { S: "from-node" } } }));
  return { s3Body: await object.Body.transformToString(), dynamodbItem: item.Item };
};
