/**
 * Node flags of the service as production starts it (Dockerfile CMD, `npm run start:prod`;
 * test/start-prod.test.ts keeps the three alike). The baseline gets them too: same runtime, so the
 * ratios compare the service's work, not its start-up flags.
 */
export const SERVICE_NODE_ARGS = ['--max-semi-space-size=64'];
