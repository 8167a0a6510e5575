/** Child of test/logging.batched.test.ts: logs through batchedStdout, then ends as argv[2] says. */
import pino from 'pino';
import { batchedStdout } from '../../src/lib/logger.js';

const log = pino({}, batchedStdout());
const lines = Number(process.argv[3] ?? 100);
for (let i = 0; i < lines; i++) log.info({ i }, 'line');
const end = process.argv[2];
if (end === 'exit') process.exit(0);
if (end === 'throw') throw new Error('fatal on purpose');
if (end === 'later') setTimeout(() => log.info({ i: lines }, 'line'), 50);
