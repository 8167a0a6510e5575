import { defineConfig } from 'vitest/config';

// Two suites: the MongoDB emulator's own tests, and the API's tests, which run against a real
// MongoDB (MONGODB_URI) or the emulator, started once for the whole run by test/global-setup.ts.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'emulator',
          include: ['emulator/test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'api',
          include: ['test/**/*.test.ts'],
          // Browser tests need Chromium: `npm run test:browser` (vitest.browser.config.ts).
          exclude: ['test/browser/**'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
