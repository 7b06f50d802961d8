'use strict';
/**
 * Runs a Node.js Lambda handler against the Lambda Runtime API, as AWS's nodejs18.x-22.x runtimes do.
 *
 * lambdapipe's local Lambda runtime starts it as `node node_bootstrap.js` in the task root with
 * AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT and the AWS_LAMBDA_* variables set. Handlers
 * must behave here as on AWS, so this follows AWS's runtime interface client (3.x) in everything a
 * handler can observe: how `_HANDLER` is resolved, the Runtime.* init errors, async and callback
 * handlers, the context object, the error JSON, the console log lines, and exiting after an uncaught
 * error. Plain CommonJS on Node's built-ins, so it runs wherever `node` does.
 */

const fs = require('node:fs');
const http = require('node:http');
const nodeModule = require('node:module');
const path = require('node:path');
const util = require('node:util');
const { pathToFileURL } = require('node:url');

const API_PREFIX = '/2018-06-01/runtime';
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';
// AWS's runtime exits with these codes after reporting the error.
const EXIT_UNCAUGHT_EXCEPTION = 129;
const EXIT_UNHANDLED_REJECTION = 128;
// Shared with libraries (e.g. loggers) the way AWS's runtime shares them.
const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');

// ---------------------------------------------------------------------------------------------
// Errors: AWS's Runtime.* types and the JSON documents the Runtime API receives.

function runtimeErrorClass(shortName) {
  const RuntimeError = { [shortName]: class extends Error {} }[shortName];
  RuntimeError.prototype.name = `Runtime.${shortName}`;
  return RuntimeError;
}

const ImportModuleError = runtimeErrorClass('ImportModuleError');
const HandlerNotFound = runtimeErrorClass('HandlerNotFound');
const MalformedHandlerName = runtimeErrorClass('MalformedHandlerName');
const UserCodeSyntaxError = runtimeErrorClass('UserCodeSyntaxError');

class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
UnhandledPromiseRejection.prototype.name = 'Runtime.UnhandledPromiseRejection';

function looksLikeError(value) {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof value.name === 'string' &&
    typeof value.message === 'string' &&
    typeof value.stack === 'string'
  );
}

/** The body posted to /invocation/{id}/error and /init/error; any thrown value is accepted. */
function errorDocument(error) {
  const escape = (text) => text.replaceAll('\x7F', '%7F');
  try {
    if (util.types.isNativeError(error) || looksLikeError(error)) {
      return {
        errorType: escape(String(error.name)),
        errorMessage: escape(String(error.message)),
        trace: escape(String(error.stack)).split('\n'),
      };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

function intoError(value) {
  return value instanceof Error ? value : new Error(value);
}

/** AWS's tab-prefixed JSON rendering of an error in log lines, enumerable properties included. */
function formatErrorForLog(error) {
  const withErrorFields = (_key, value) => {
    if (!(value instanceof Error)) return value;
    const fields = Object.assign(
      { errorType: value.name, errorMessage: value.message, code: value.code },
      value,
    );
    if (typeof value.stack === 'string') fields.stack = value.stack.split('\n');
    return fields;
  };
  try {
    return '\t' + JSON.stringify(error, withErrorFields);
  } catch {
    return '\t' + JSON.stringify(errorDocument(error));
  }
}

// ---------------------------------------------------------------------------------------------
// Logging: console methods write one `<time>\t<request id>\t<LEVEL>\t<message>` record per line.

const LOG_LEVELS = { TRACE: 1, DEBUG: 2, INFO: 3, WARN: 4, ERROR: 5, FATAL: 6 };

function textRecord(level, message, params) {
  const text = util.format(message, ...params);
  return `${new Date().toISOString()}\t${globalThis[REQUEST_ID]}\t${level}\t${text}`;
}

function jsonRecord(level, message, params) {
  const record = { timestamp: new Date().toISOString(), level, requestId: globalThis[REQUEST_ID] };
  if (params.length === 0) {
    record.message = message;
    try {
      return JSON.stringify(record, (_key, value) =>
        value instanceof Error
          ? {
              errorType: value.constructor?.name ?? 'UnknownError',
              errorMessage: value.message,
              stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
              ...value,
            }
          : value,
      );
    } catch {
      record.message = util.format(message);
      return JSON.stringify(record);
    }
  }
  record.message = util.format(message, ...params);
  const error = [message, ...params].find((param) => param instanceof Error);
  if (error) {
    record.errorType = error.constructor?.name ?? 'UnknownError';
    record.errorMessage = error.message;
    record.stackTrace = typeof error.stack === 'string' ? error.stack.split('\n') : [];
  }
  return JSON.stringify(record);
}

/** Route console.* through Lambda's log format; returns how runtime errors ("Invoke Error") are logged. */
function patchConsole() {
  const json = process.env.AWS_LAMBDA_LOG_FORMAT?.toUpperCase() === 'JSON';
  const formatRecord = json ? jsonRecord : textRecord;
  const threshold = LOG_LEVELS[process.env.AWS_LAMBDA_LOG_LEVEL?.toUpperCase()] ?? LOG_LEVELS.TRACE;
  for (const [level, priority] of Object.entries(LOG_LEVELS)) {
    const enabled = level === 'FATAL' || priority >= threshold;
    console[level.toLowerCase()] = enabled
      ? (message, ...params) => {
          // A multi-line message stays one record: newlines become carriage returns, as on AWS.
          process.stdout.write(formatRecord(level, message, params).replace(/\n/g, '\r') + '\n');
        }
      : () => {};
  }
  console.log = console.info;
  return json
    ? (_label, error) => console.error(intoError(error))
    : (label, error) => console.error(label, formatErrorForLog(intoError(error)));
}

// ---------------------------------------------------------------------------------------------
// Loading the handler named by _HANDLER ("[dir/]module.export[.nested]").

function splitHandler(fullHandler) {
  if (fullHandler.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const moduleAndExport = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(moduleAndExport));
  const match = moduleAndExport.match(/^([^.]*)\.(.*)$/);
  if (!match) throw new MalformedHandlerName('Bad handler');
  return { moduleRoot, moduleName: match[1], exportPath: match[2] };
}

/** Whether the nearest package.json above `folder` declares "type": "module" (Node's rule for .js). */
function isModulePackage(folder) {
  if (folder.endsWith(`${path.sep}node_modules`)) return false;
  const manifest = path.join(folder, 'package.json');
  if (fs.existsSync(manifest)) {
    try {
      return JSON.parse(fs.readFileSync(manifest, 'utf8'))?.type === 'module';
    } catch (error) {
      console.warn(`${manifest} cannot be read, it will be ignored for ES module detection purposes.`, error);
      return false;
    }
  }
  const parent = path.dirname(folder);
  return parent !== folder && isModulePackage(parent);
}

function requireIfExists(file) {
  return fs.existsSync(file) ? require(file) : undefined;
}

async function importIfExists(file) {
  return fs.existsSync(file) ? import(pathToFileURL(file).href) : undefined;
}

/** AWS's lookup order: extensionless, CommonJS .js, ESM .js, .mjs, .cjs, then Node's own resolution. */
async function loadModule(appRoot, moduleRoot, moduleName) {
  const base = path.resolve(appRoot, moduleRoot, moduleName);
  const esmPackage = fs.existsSync(`${base}.js`) && isModulePackage(path.dirname(base));
  const loaded =
    requireIfExists(base) ||
    (!esmPackage && requireIfExists(`${base}.js`)) ||
    (esmPackage && (await importIfExists(`${base}.js`))) ||
    (await importIfExists(`${base}.mjs`)) ||
    requireIfExists(`${base}.cjs`);
  if (loaded) return loaded;
  return require(require.resolve(moduleName, { paths: [appRoot, moduleRoot] }));
}

async function loadHandler(appRoot, fullHandler) {
  const { moduleRoot, moduleName, exportPath } = splitHandler(fullHandler);
  let userModule;
  try {
    userModule = await loadModule(appRoot, moduleRoot, moduleName);
  } catch (error) {
    if (error instanceof SyntaxError) throw new UserCodeSyntaxError(error);
    if (error?.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(error);
    throw error;
  }
  const handler = exportPath.split('.').reduce((value, key) => value && value[key], userModule);
  if (!handler) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof handler !== 'function') throw new HandlerNotFound(`${fullHandler} is not a function`);
  return handler;
}

/**
 * ES modules ignore NODE_PATH, but AWS's runtime resolves bare `import`s against it (layers, the AWS
 * SDK). A resolve hook retries a failed bare specifier from each NODE_PATH entry named node_modules
 * (Lambda's layout; ESM resolution can only search directories of that name) and accepts only files
 * inside that entry, so nothing leaks in from directories above it.
 */
const NODE_PATH_RESOLVE_HOOK = `
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

let directories = [];
export function initialize(nodePath) {
  directories = nodePath.map((directory) => realpathSync(directory));
}

const isBare = (specifier) => !/^(\\.|\\/|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(specifier);

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !isBare(specifier)) throw error;
    for (const directory of directories) {
      const parentURL = pathToFileURL(path.join(path.dirname(directory), 'noop.mjs')).href;
      try {
        const found = await nextResolve(specifier, { ...context, parentURL });
        if (found.url.startsWith('file:') && fileURLToPath(found.url).startsWith(directory + path.sep)) {
          return found;
        }
      } catch {
        // Not in this directory: try the next one.
      }
    }
    throw error;
  }
}
`;

function registerNodePathResolver() {
  const directories = (process.env.NODE_PATH ?? '')
    .split(path.delimiter)
    .filter((directory) => path.basename(directory) === 'node_modules' && fs.existsSync(directory));
  if (directories.length === 0 || typeof nodeModule.register !== 'function') return;
  nodeModule.register(`data:text/javascript,${encodeURIComponent(NODE_PATH_RESOLVE_HOOK)}`, {
    data: directories,
  });
}

// ---------------------------------------------------------------------------------------------
// The Runtime API client.

class RuntimeApiClient {
  constructor(address) {
    const separator = address.lastIndexOf(':');
    this.hostname = address.slice(0, separator);
    this.port = Number(address.slice(separator + 1));
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  request(method, route, body, headers = {}) {
    const options = {
      hostname: this.hostname,
      port: this.port,
      path: API_PREFIX + route,
      method,
      agent: this.agent,
      headers:
        body === undefined
          ? headers
          : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers },
    };
    return new Promise((resolve, reject) => {
      const request = http.request(options, (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () =>
          resolve({
            status: response.statusCode,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      });
      request.on('error', reject);
      request.end(body);
    });
  }

  async nextInvocation() {
    const answer = await this.request('GET', '/invocation/next');
    if (answer.status !== 200) throw new RuntimeApiClosed(answer);
    return answer;
  }

  postInvocationResponse(requestId, body) {
    return this.post(`/invocation/${encodeURIComponent(requestId)}/response`, body);
  }

  postInvocationError(requestId, error) {
    return this.postError(`/invocation/${encodeURIComponent(requestId)}/error`, error);
  }

  postInitError(error) {
    return this.postError('/init/error', error);
  }

  postError(route, error) {
    const document = errorDocument(error);
    return this.post(route, JSON.stringify(document), { [ERROR_TYPE_HEADER]: document.errorType });
  }

  async post(route, body, headers) {
    const answer = await this.request('POST', route, body, headers);
    if (answer.status >= 300) {
      process.stderr.write(`node_bootstrap: POST ${API_PREFIX}${route} answered ${answer.status}: ${answer.body}\n`);
    }
  }
}

/** The Runtime API stopped handing out invocations (410 Gone when the environment shuts down). */
class RuntimeApiClosed extends Error {
  constructor(answer) {
    super(`GET ${API_PREFIX}/invocation/next answered ${answer.status}: ${answer.body}`);
    this.status = answer.status;
  }
}

// ---------------------------------------------------------------------------------------------
// Invocations.

function isPromise(value) {
  return Boolean(value) && typeof value.then === 'function';
}

function parseJsonHeader(value, name) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new Error(`Cannot parse ${name} as json: ${error.toString()}`);
  }
}

/** The context fields AWS fills from the environment and the invocation's headers. */
function invocationData(headers) {
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  return {
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: parseJsonHeader(headers['lambda-runtime-client-context'], 'ClientContext'),
    identity: parseJsonHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
}

/** Serialise a handler result; `undefined` is sent as null. */
function responseBody(result) {
  try {
    return JSON.stringify(result === undefined ? null : result) ?? 'null';
  } catch {
    throw new Error('Unable to stringify response body');
  }
}

class Runtime {
  constructor(client, logError) {
    this.client = client;
    this.logError = logError;
    this.handler = null;
    // Reports a crash (uncaught exception, unhandled rejection): to /init/error until the first invocation.
    this.reportCrash = (error) => client.postInitError(error);
    // Run when the event loop empties: finishes callback handlers that wait for an empty loop.
    this.onEmptyEventLoop = () => {};
    this.crashing = false;
  }

  /** Catch crashes from here on, including while the handler module loads. */
  watchForCrashes() {
    process.on('uncaughtException', (error) => {
      this.logError('Uncaught Exception', error);
      this.crash(error, EXIT_UNCAUGHT_EXCEPTION);
    });
    process.on('unhandledRejection', (reason, promise) => {
      const error = new UnhandledPromiseRejection(reason, promise);
      this.logError('Unhandled Promise Rejection', error);
      this.crash(error, EXIT_UNHANDLED_REJECTION);
    });
    process.on('beforeExit', () => this.onEmptyEventLoop());
  }

  serve(handler) {
    this.handler = handler;
    this.scheduleNext();
  }

  crash(error, exitCode) {
    if (this.crashing) return;
    this.crashing = true;
    this.reportCrash(error)
      .catch((failure) => process.stderr.write(`node_bootstrap: could not report ${error}: ${failure}\n`))
      .finally(() => process.exit(exitCode));
  }

  /** Without the Runtime API there is nothing left to do: 410 Gone is a shutdown, anything else a failure. */
  lostRuntimeApi(error) {
    if (error instanceof RuntimeApiClosed && error.status === 410) process.exit(0);
    process.stderr.write(`node_bootstrap: the Runtime API failed: ${error.stack ?? error}\n`);
    process.exit(1);
  }

  /** Poll for the next invocation once `posting` (the previous answer) has been delivered. */
  nextAfter(posting) {
    posting.then(
      () => this.scheduleNext(),
      (error) => this.lostRuntimeApi(error),
    );
  }

  scheduleNext() {
    setImmediate(() => this.handleNext().catch((error) => this.lostRuntimeApi(error)));
  }

  async handleNext() {
    const { headers, body } = await this.client.nextInvocation();
    const requestId = headers['lambda-runtime-aws-request-id'];
    globalThis[REQUEST_ID] = requestId;
    if (headers['lambda-runtime-trace-id']) {
      process.env._X_AMZN_TRACE_ID = headers['lambda-runtime-trace-id'];
    } else {
      delete process.env._X_AMZN_TRACE_ID;
    }
    this.reportCrash = (error) => this.client.postInvocationError(requestId, error);
    const { callback, callbackContext, markCompleted } = this.callbackContext(requestId);
    // A handler that neither returns a promise nor calls back answers null once its work is done.
    this.onEmptyEventLoop = () => {
      markCompleted();
      this.nextAfter(this.client.postInvocationResponse(requestId, 'null'));
    };
    try {
      const context = Object.assign(callbackContext, invocationData(headers));
      const result = this.handler(JSON.parse(body), context, callback);
      if (isPromise(result)) {
        result.then(callbackContext.succeed, callbackContext.fail).catch(callbackContext.fail);
      }
    } catch (error) {
      callback(error);
    }
  }

  /** The callback and context.done/succeed/fail; only the first call of any of them counts. */
  callbackContext(requestId) {
    let completed = false;
    let waitForEmptyEventLoop = true;

    const postError = (error) => {
      this.logError('Invoke Error', error);
      this.nextAfter(this.client.postInvocationError(requestId, error));
    };
    const complete = (result) => {
      if (completed) {
        console.error(
          'Invocation has already been reported as done. Cannot call complete more than once per invocation.',
        );
        return;
      }
      completed = true;
      this.nextAfter(this.client.postInvocationResponse(requestId, responseBody(result)));
    };
    const done = (error, result) => {
      this.onEmptyEventLoop = () => {};
      if (error !== undefined && error !== null) postError(error);
      else complete(result);
    };
    const callback = (error, result) => {
      if (error !== undefined && error !== null) {
        done(error);
      } else if (!waitForEmptyEventLoop) {
        done(null, result);
      } else {
        this.onEmptyEventLoop = () => setImmediate(() => done(null, result));
      }
    };

    let finished = false;
    const firstCallOnly =
      (fn) =>
      (...args) => {
        if (finished) return;
        fn(...args);
        finished = true;
      };
    const callbackContext = {
      get callbackWaitsForEmptyEventLoop() {
        return waitForEmptyEventLoop;
      },
      set callbackWaitsForEmptyEventLoop(value) {
        waitForEmptyEventLoop = value;
      },
      succeed: firstCallOnly((result) => done(null, result)),
      fail: firstCallOnly((error) => done(error ?? 'handled', null)),
      done: firstCallOnly(done),
    };
    return { callback: firstCallOnly(callback), callbackContext, markCompleted: () => (completed = true) };
  }
}

async function main() {
  const address = process.env.AWS_LAMBDA_RUNTIME_API;
  if (!address) {
    process.stderr.write('node_bootstrap: AWS_LAMBDA_RUNTIME_API is not set (expected "host:port")\n');
    process.exit(1);
  }
  const logError = patchConsole();
  const runtime = new Runtime(new RuntimeApiClient(address), logError);
  runtime.watchForCrashes();
  registerNodePathResolver();
  const appRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  let handler;
  try {
    handler = await loadHandler(appRoot, process.env._HANDLER ?? '');
  } catch (error) {
    logError('Uncaught Exception', error);
    runtime.crash(error, EXIT_UNCAUGHT_EXCEPTION);
    return;
  }
  runtime.serve(handler);
}

main();
