import { defineConfig } from 'vitest/config';

// `npm run test:browser`: tests in a real browser (Debian's chromium, no download). Kept out of
// `npm test` so that a clone passes it without a browser installed; CI (.ci/run) runs both.
export default defineConfig({
  test: {
    name: 'browser',
    include: ['test/browser/**/*.browser.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 90_000,
    hookTimeout: 90_000,
  },
});
