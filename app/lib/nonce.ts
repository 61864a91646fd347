import { createContext, useContext } from "react";

// The Content-Security-Policy nonce of the page being rendered (server/http/security-headers.ts).
// Only the server render has one: by the time the browser hydrates, the scripts have run.
const NonceContext = createContext<string | undefined>(undefined);

export const NonceProvider = NonceContext.Provider;

export function useNonce(): string | undefined {
  return useContext(NonceContext);
}
