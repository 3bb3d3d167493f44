import { describe, expect, it } from 'vitest';

import { NO_SECRET, secretReducer } from './secretOnce';
import { type Token, checkNewToken, isSdkRole, roleInfo, sortTokens } from './tokenText';

const token = (id: number, createdAt: string, revokedAt: string | null = null): Token => ({
  id,
  name: `t${id}`,
  role: 'viewer',
  flagSet: null,
  prefix: 'ens_adm_xxxx',
  createdAt,
  revokedAt,
});

describe('checkNewToken', () => {
  it('sends an admin token without a flag set, its name trimmed', () => {
    expect(checkNewToken({ name: '  ops ', role: 'admin', flagSet: 'default' })).toEqual({
      ok: true,
      input: { name: 'ops', role: 'admin', flagSet: null },
    });
  });

  it('needs a flag set for an SDK key', () => {
    expect(checkNewToken({ name: 'web', role: 'client', flagSet: '' })).toEqual({
      ok: false,
      problems: { flagSet: 'An SDK key needs a flag set' },
    });
    expect(checkNewToken({ name: 'api', role: 'server', flagSet: 'shop' })).toEqual({
      ok: true,
      input: { name: 'api', role: 'server', flagSet: 'shop' },
    });
  });

  it('needs a name of 1 to 100 bytes, counted as UTF-8', () => {
    expect(checkNewToken({ name: '   ', role: 'viewer', flagSet: '' })).toEqual({
      ok: false,
      problems: { name: 'A token needs a name' },
    });
    expect(checkNewToken({ name: 'é'.repeat(50), role: 'viewer', flagSet: '' }).ok).toBe(true);
    expect(checkNewToken({ name: 'é'.repeat(51), role: 'viewer', flagSet: '' })).toEqual({
      ok: false,
      problems: { name: 'A name has at most 100 bytes; this one has 102' },
    });
  });
});

describe('roles', () => {
  it('tells SDK keys from admin tokens, and names a role it does not know as it is', () => {
    expect(['viewer', 'editor', 'admin', 'server', 'client'].map(isSdkRole)).toEqual([false, false, false, true, true]);
    expect(roleInfo('client').label).toBe('Client SDK key');
    expect(roleInfo('owner')).toMatchObject({ label: 'owner', sdk: false });
  });
});

describe('sortTokens', () => {
  it('puts live tokens first, the newest first within each', () => {
    const sorted = sortTokens([
      token(1, '2026-01-01T00:00:00Z'),
      token(2, '2026-03-01T00:00:00Z', '2026-04-01T00:00:00Z'),
      token(3, '2026-02-01T00:00:00Z'),
      token(4, '2026-05-01T00:00:00Z', '2026-06-01T00:00:00Z'),
      token(5, '2026-02-01T00:00:00Z'),
    ]);
    expect(sorted.map((t) => t.id)).toEqual([5, 3, 1, 4, 2]);
  });
});

describe('the secret shown once', () => {
  it('holds a new secret until dismissed, and nothing brings it back', () => {
    const shown = secretReducer(NO_SECRET, { type: 'created', token: token(7, '2026-01-01T00:00:00Z'), secret: 's3cret' });
    expect(shown).toMatchObject({ status: 'shown', secret: 's3cret', copy: 'not-yet' });
    const copied = secretReducer(shown, { type: 'copied' });
    expect(copied).toMatchObject({ status: 'shown', copy: 'copied' });
    const gone = secretReducer(copied, { type: 'dismissed' });
    expect(gone).toEqual({ status: 'none' });
    expect(JSON.stringify(gone)).not.toContain('s3cret');
    expect(secretReducer(gone, { type: 'copied' })).toEqual({ status: 'none' });
  });

  it('drops an older secret when another token is created', () => {
    const first = secretReducer(NO_SECRET, { type: 'created', token: token(1, '2026-01-01T00:00:00Z'), secret: 'one' });
    const failed = secretReducer(first, { type: 'copy-failed' });
    expect(failed).toMatchObject({ copy: 'failed' });
    const second = secretReducer(failed, { type: 'created', token: token(2, '2026-01-01T00:00:00Z'), secret: 'two' });
    expect(second).toMatchObject({ status: 'shown', secret: 'two', copy: 'not-yet' });
    expect(JSON.stringify(second)).not.toContain('one');
  });
});
