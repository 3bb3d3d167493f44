// Vitest setup: DOM matchers, a wait long enough for lazily loaded tabs,
// and a clean DOM and session after each test.
import '@testing-library/jest-dom/vitest';
import { cleanup, configure } from '@testing-library/react';
import { afterEach } from 'vitest';

// The first render of a file loads the app and its tab on demand, after
// the flag, which takes longer than Testing Library's default wait of one
// second under a loaded run.
configure({ asyncUtilTimeout: 5000 });

afterEach(() => {
  cleanup();
  sessionStorage.clear();
});
