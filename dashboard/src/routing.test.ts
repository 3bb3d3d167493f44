import { describe, expect, it } from 'vitest';

import { flagSetOfPath, flagSetPath, newFlagPath } from './routing';

describe('flagSetOfPath', () => {
  it('reads the flag set of a screen that shows one, decoded', () => {
    expect(flagSetOfPath(flagSetPath('prod/eu'))).toBe('prod/eu');
    expect(flagSetOfPath(`${flagSetPath('a%b')}/some-flag/rollout`)).toBe('a%b');
    expect(flagSetOfPath(newFlagPath('staging'))).toBe('staging');
  });

  it('finds none where the screen shows no flag set', () => {
    expect(flagSetOfPath('/')).toBeUndefined();
    expect(flagSetOfPath('/flags')).toBeUndefined();
    expect(flagSetOfPath('/flags/')).toBeUndefined();
    expect(flagSetOfPath('/audit')).toBeUndefined();
    expect(flagSetOfPath('/sign-in')).toBeUndefined();
  });
});
