/**
 * AWS Lambda entry (API Gateway HTTP API, payload v2, or REST API v1) through @fastify/aws-lambda.
 * The app is built once per container, on the first invocation, and kept: its MongoDB pool and
 * Redis client live as long as the container and serve every later invocation. Configuration is
 * validated exactly as for the server (production refuses dev defaults and a missing MONGODB_URI).
 */
import awsLambdaFastify from '@fastify/aws-lambda';
import type { FastifyInstance } from 'fastify';
import { type AppDependencies, buildApp } from './app.js';
import { type Config, loadConfig } from './config.js';

/** The parts of an API Gateway event and Lambda context the adapter reads. */
export interface LambdaHttpEvent {
  version?: string;
  routeKey?: string;
  rawPath?: string;
  path?: string;
  httpMethod?: string;
  rawQueryString?: string;
  queryStringParameters?: Record<string, string | undefined> | null;
  headers?: Record<string, string | undefined> | null;
  cookies?: string[];
  body?: string | null;
  isBase64Encoded?: boolean;
  requestContext?: {
    requestId?: string;
    stage?: string;
    http?: { method: string; path?: string; sourceIp?: string; userAgent?: string };
  } & Record<string, unknown>;
}

export interface LambdaContext {
  callbackWaitsForEmptyEventLoop?: boolean;
  awsRequestId?: string;
  [key: string]: unknown;
}

export interface LambdaHttpResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded?: boolean;
  cookies?: string[];
}

export interface HandlerOptions {
  /** A validated config; otherwise `env` (default process.env) is validated on first use. */
  config?: Config;
  env?: NodeJS.ProcessEnv;
  deps?: AppDependencies;
}

export interface LambdaHandler {
  (event: LambdaHttpEvent, context?: LambdaContext): Promise<LambdaHttpResult>;
  /** The app this container serves (built on first call). */
  app(): Promise<FastifyInstance>;
  /** Closes the app and its connections; the next invocation builds a new one. */
  close(): Promise<void>;
}

type Proxy = (event: LambdaHttpEvent, context: LambdaContext) => Promise<LambdaHttpResult>;

export function createHandler(options: HandlerOptions = {}): LambdaHandler {
  let ready: Promise<{ app: FastifyInstance; proxy: Proxy }> | undefined;

  const init = async () => {
    const config = options.config ?? loadConfig(options.env ?? process.env);
    const app = await buildApp(config, options.deps);
    // The adapter must wrap the app before it is ready; request decoration is not used here.
    const proxy = awsLambdaFastify(app, { decorateRequest: false, callbackWaitsForEmptyEventLoop: false }) as unknown as Proxy;
    await app.ready();
    return { app, proxy };
  };

  const start = () => {
    // A failed start (e.g. MongoDB unreachable) is not memoised: the next invocation tries again.
    ready ??= init().catch((err: unknown) => {
      ready = undefined;
      throw err;
    });
    return ready;
  };

  const handler = async (event: LambdaHttpEvent, context: LambdaContext = {}) => {
    const { proxy } = await start();
    return proxy(event, context);
  };
  return Object.assign(handler, {
    app: async () => (await start()).app,
    async close() {
      const current = ready;
      ready = undefined;
      if (current) await (await current).app.close();
    },
  });
}

/** The Lambda handler: configure the function with the same environment variables as the server. */
export const handler = createHandler();
