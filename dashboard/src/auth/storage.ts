// Where the token is kept: sessionStorage only (gone with the tab, never in
// a URL), shared with graphiql.html on the same origin.
const TOKEN_KEY = 'ensign.token';

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}
