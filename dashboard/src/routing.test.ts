import { describe, expect, it } from 'vitest';

import { flagSetOfPath, flagSetPath, newFlagPath, newSegmentPath, segmentPath, segmentsPath, usagePath } from './routing';

describe('flagSetOfPath', () => {
  it('reads the flag set of a screen that shows one, decoded', () => {
    expect(flagSetOfPath(flagSetPath('prod/eu'))).toBe('prod/eu');
    expect(flagSetOfPath(`${flagSetPath('a%b')}/some-flag/rollout`)).toBe('a%b');
    expect(flagSetOfPath(newFlagPath('staging'))).toBe('staging');
    expect(flagSetOfPath(segmentsPath('prod/eu'))).toBe('prod/eu');
    expect(flagSetOfPath(segmentPath('staging', 'new'))).toBe('staging');
    expect(flagSetOfPath(newSegmentPath('a%b'))).toBe('a%b');
    expect(flagSetOfPath(usagePath('staging'))).toBe('staging');
  });

  it('finds none where the screen shows no flag set', () => {
    expect(flagSetOfPath('/')).toBeUndefined();
    expect(flagSetOfPath('/flags')).toBeUndefined();
    expect(flagSetOfPath('/flags/')).toBeUndefined();
    expect(flagSetOfPath('/audit')).toBeUndefined();
    expect(flagSetOfPath('/keys')).toBeUndefined();
    expect(flagSetOfPath('/segments')).toBeUndefined();
    expect(flagSetOfPath('/usage')).toBeUndefined();
    expect(flagSetOfPath('/sign-in')).toBeUndefined();
  });
});

describe('segment paths', () => {
  it('keep any key apart from the create form, encoded', () => {
    expect(segmentPath('default', 'new')).toBe('/segments/default/new');
    expect(segmentPath('default', 'a/b %')).toBe('/segments/default/a%2Fb%20%25');
    expect(newSegmentPath('default')).toBe('/new-segment/default');
  });
});
