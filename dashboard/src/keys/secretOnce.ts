// The secret of a token just created, held for the one time it is shown:
// in this state only (never in the address, storage or the GraphQL
// cache), until the user says they have it, creates another token, or
// leaves the screen. Nothing brings it back: the server keeps only a hash.
import type { Token } from './tokenText';

export type SecretState =
  | { status: 'none' }
  | {
      status: 'shown';
      token: Token;
      secret: string;
      /** Whether the copy button put it on the clipboard. */
      copy: 'not-yet' | 'copied' | 'failed';
    };

export type SecretAction =
  | { type: 'created'; token: Token; secret: string }
  | { type: 'copied' }
  | { type: 'copy-failed' }
  /** The user has it: the secret is dropped. */
  | { type: 'dismissed' };

export const NO_SECRET: SecretState = { status: 'none' };

export function secretReducer(state: SecretState, action: SecretAction): SecretState {
  switch (action.type) {
    case 'created':
      // A newer token's secret replaces an older one's, which is then gone.
      return { status: 'shown', token: action.token, secret: action.secret, copy: 'not-yet' };
    case 'copied':
      return state.status === 'shown' ? { ...state, copy: 'copied' } : state;
    case 'copy-failed':
      return state.status === 'shown' ? { ...state, copy: 'failed' } : state;
    case 'dismissed':
      return NO_SECRET;
  }
}
