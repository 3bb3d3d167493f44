import { describe, expect, it } from 'vitest';

import {
  alertsPath,
  comparePath,
  flagSetOfPath,
  flagSetPath,
  newFlagPath,
  newRolloutPath,
  rolloutPath,
  rolloutsPath,
} from './routing';

describe('flagSetOfPath', () => {
  it('reads the flag set of a screen that shows one, decoded', () => {
    expect(flagSetOfPath(flagSetPath('prod/eu'))).toBe('prod/eu');
    expect(flagSetOfPath(`${flagSetPath('a%b')}/some-flag/rollout`)).toBe('a%b');
    expect(flagSetOfPath(newFlagPath('staging'))).toBe('staging');
    expect(flagSetOfPath(rolloutPath('prod/eu', 7))).toBe('prod/eu');
    expect(flagSetOfPath(newRolloutPath('staging'))).toBe('staging');
  });

  it('finds none where the screen shows no flag set', () => {
    expect(flagSetOfPath('/')).toBeUndefined();
    expect(flagSetOfPath('/flags')).toBeUndefined();
    expect(flagSetOfPath('/flags/')).toBeUndefined();
    expect(flagSetOfPath('/audit')).toBeUndefined();
    expect(flagSetOfPath('/sign-in')).toBeUndefined();
  });
});

describe('the rollout screens’ paths', () => {
  it('encodes flag sets and keys, with the form’s flag in its query string', () => {
    expect(rolloutsPath('prod/eu')).toBe('/rollouts/prod%2Feu');
    expect(rolloutPath('prod/eu', 12)).toBe('/rollouts/prod%2Feu/12');
    expect(newRolloutPath('default')).toBe('/new-rollout/default');
    expect(newRolloutPath('default', 'a&b c')).toBe('/new-rollout/default?flag=a%26b+c');
  });
});

describe('the alerts’ path', () => {
  it('keeps the flag-set filter in the query string, and shows no flag set', () => {
    expect(alertsPath()).toBe('/alerts');
    expect(alertsPath('a&b')).toBe('/alerts?flagSet=a%26b');
    expect(flagSetOfPath('/alerts')).toBeUndefined();
  });
});

describe('the comparison’s path', () => {
  it('keeps both flag sets and the filter in the query string, and shows no flag set', () => {
    expect(comparePath()).toBe('/compare');
    expect(comparePath('staging')).toBe('/compare?from=staging');
    expect(comparePath('staging', 'prod/eu', true)).toBe('/compare?from=staging&to=prod%2Feu&all=1');
    expect(flagSetOfPath('/compare')).toBeUndefined();
  });
});
