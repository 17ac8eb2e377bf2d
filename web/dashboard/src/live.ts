// Live updates over graphql-transport-ws: one socket per open project, resubscribed and refetched after any reconnect.
import { createClient, type Client } from "graphql-ws";
import type { Session } from "./session";

export type LiveState = "connecting" | "live" | "reconnecting";

export interface LiveHandlers {
  /** The socket (re)connected after a drop: events may have been missed, so the caller refetches. */
  onResync: () => void;
  onState: (state: LiveState) => void;
  /** 4401: the sign-in ended (logout, deactivation, password or role change). */
  onSignedOut: () => void;
  /** 4403: access to the project was removed. */
  onForbidden: () => void;
}

const SIGNED_OUT = 4401;
const FORBIDDEN = 4403;

function wsUrl(): string {
  const url = new URL("graphql", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

function closeCode(event: unknown): number | undefined {
  return typeof event === "object" && event !== null && "code" in event ? Number(event.code) : undefined;
}

/** A client whose connection_init carries the session's current access token; 4008 (overflow), 4009 (resync) and
 * network drops reconnect with backoff and resubscribe every active subscription, then `onResync` refetches. */
export function connect(session: Session, handlers: LiveHandlers): Client {
  let connectedBefore = false;
  return createClient({
    url: wsUrl(),
    lazy: false,
    // A fatal close (4401, 4403) is reported through `on.closed` below; the default would log it as an error.
    onNonLazyError: () => {},
    connectionParams: () => ({ authorization: `Bearer ${session.token}` }),
    retryAttempts: Infinity,
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** retries, 10_000))),
    shouldRetry: (event) => {
      const code = closeCode(event);
      return code !== SIGNED_OUT && code !== FORBIDDEN;
    },
    on: {
      connecting: () => handlers.onState(connectedBefore ? "reconnecting" : "connecting"),
      connected: (_socket, _payload, wasRetry) => {
        connectedBefore = true;
        handlers.onState("live");
        if (wasRetry) handlers.onResync();
      },
      closed: (event) => {
        const code = closeCode(event);
        if (code === SIGNED_OUT) handlers.onSignedOut();
        else if (code === FORBIDDEN) handlers.onForbidden();
        else handlers.onState("reconnecting");
      },
    },
  });
}

/** Subscribe until `dispose()`; errors end this subscription only (the client reports closes through `on`). */
export function follow<T>(
  client: Client,
  query: string,
  variables: Record<string, unknown>,
  next: (data: T) => void,
): () => void {
  return client.subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        if (result.data) next(result.data as T);
      },
      error: () => {},
      complete: () => {},
    },
  );
}
