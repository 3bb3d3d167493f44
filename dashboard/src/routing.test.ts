import { describe, expect, it } from 'vitest';

import {
  alertsPath,
  comparePath,
  experimentPath,
  experimentsPath,
  flagSetOfPath,
  flagSetPath,
  newExperimentPath,
  newFlagPath,
  newRolloutPath,
  newSegmentPath,
  rolloutPath,
  rolloutsPath,
  segmentPath,
  segmentsPath,
  usagePath,
} from './routing';

describe('flagSetOfPath', () => {
  it('reads the flag set of a screen that shows one, decoded', () => {
    expect(flagSetOfPath(flagSetPath('prod/eu'))).toBe('prod/eu');
    expect(flagSetOfPath(`${flagSetPath('a%b')}/some-flag/rollout`)).toBe('a%b');
    expect(flagSetOfPath(newFlagPath('staging'))).toBe('staging');
    expect(flagSetOfPath(experimentsPath('web'))).toBe('web');
    expect(flagSetOfPath(experimentPath('a/b', 'checkout-test'))).toBe('a/b');
    expect(flagSetOfPath(newExperimentPath('mobile'))).toBe('mobile');
    expect(flagSetOfPath(segmentsPath('prod/eu'))).toBe('prod/eu');
    expect(flagSetOfPath(segmentPath('staging', 'new'))).toBe('staging');
    expect(flagSetOfPath(newSegmentPath('a%b'))).toBe('a%b');
    expect(flagSetOfPath(usagePath('staging'))).toBe('staging');
    expect(flagSetOfPath(rolloutPath('prod/eu', 7))).toBe('prod/eu');
    expect(flagSetOfPath(newRolloutPath('staging'))).toBe('staging');
  });

  it('finds none where the screen shows no flag set', () => {
    expect(flagSetOfPath('/')).toBeUndefined();
    expect(flagSetOfPath('/flags')).toBeUndefined();
    expect(flagSetOfPath('/flags/')).toBeUndefined();
    expect(flagSetOfPath('/audit')).toBeUndefined();
    expect(flagSetOfPath('/experiments')).toBeUndefined();
    expect(flagSetOfPath('/keys')).toBeUndefined();
    expect(flagSetOfPath('/segments')).toBeUndefined();
    expect(flagSetOfPath('/usage')).toBeUndefined();
    expect(flagSetOfPath('/sign-in')).toBeUndefined();
  });
});

describe('experiment paths', () => {
  it('encode the flag set and the key as one segment each', () => {
    expect(experimentsPath('prod/eu')).toBe('/experiments/prod%2Feu');
    expect(experimentPath('default', 'a/b test')).toBe('/experiments/default/a%2Fb%20test');
  });

  it('edit a draft through the create form, named in the query string', () => {
    expect(newExperimentPath('default')).toBe('/new-experiment/default');
    expect(newExperimentPath('default', 'price&test')).toBe('/new-experiment/default?draft=price%26test');
  });
});

describe('segment paths', () => {
  it('keep any key apart from the create form, encoded', () => {
    expect(segmentPath('default', 'new')).toBe('/segments/default/new');
    expect(segmentPath('default', 'a/b %')).toBe('/segments/default/a%2Fb%20%25');
    expect(newSegmentPath('default')).toBe('/new-segment/default');
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
