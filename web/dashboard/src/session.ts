// The sign-in: tokens live in memory only, the access token is refreshed before it expires, and GraphQL goes over fetch.
import { LOGIN, REFRESH, LOGOUT } from "./queries";
import type { Viewer } from "./types";

export const GRAPHQL_URL = new URL("graphql", location.href).toString();

/** A GraphQL error as the API reports it (extensions.code, errorId, field). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

interface AuthPayload {
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
  user: Viewer;
}

const REFRESH_AHEAD_MS = 60_000;
const ENDED = "Your sign-in ended. Please sign in again.";

async function post<T>(query: string, variables: Record<string, unknown>, token?: string): Promise<T> {
  let response: Response;
  try {
    response = await fetch(GRAPHQL_URL, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError("the server cannot be reached", "NETWORK");
  }
  const body = await response.json().catch(() => null);
  const error = body?.errors?.[0];
  if (error) throw new ApiError(error.message, error.extensions?.code ?? "ERROR", error.extensions?.field);
  if (!response.ok || !body?.data) throw new ApiError(`the server answered ${response.status}`, "HTTP");
  return body.data as T;
}

export class Session {
  private accessToken: string;
  private refreshToken: string;
  private timer = 0;
  private refreshing: Promise<void> | null = null;
  readonly viewer: Viewer;

  private constructor(
    payload: AuthPayload,
    private readonly onEnded: (why: string) => void,
  ) {
    this.accessToken = payload.accessToken;
    this.refreshToken = payload.refreshToken;
    this.viewer = payload.user;
    this.schedule(payload.expiresAt);
  }

  static async login(username: string, password: string, onEnded: (why: string) => void): Promise<Session> {
    const data = await post<{ login: AuthPayload }>(LOGIN, { username, password });
    return new Session(data.login, onEnded);
  }

  get token(): string {
    return this.accessToken;
  }

  /** Run an operation as the viewer; an ended sign-in (UNAUTHENTICATED after a refresh attempt) signs out. */
  async gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    try {
      return await post<T>(query, variables, this.accessToken);
    } catch (error) {
      if (!(error instanceof ApiError) || error.code !== "UNAUTHENTICATED") throw error;
      await this.refresh();
      return await post<T>(query, variables, this.accessToken);
    }
  }

  /** Trade the refresh token for a new pair (once at a time: a refresh token is single use). */
  refresh(): Promise<void> {
    this.refreshing ??= post<{ refreshToken: AuthPayload }>(REFRESH, { token: this.refreshToken })
      .then((data) => {
        this.accessToken = data.refreshToken.accessToken;
        this.refreshToken = data.refreshToken.refreshToken;
        this.schedule(data.refreshToken.expiresAt);
      })
      .catch((error) => {
        if (error instanceof ApiError && error.code !== "NETWORK" && error.code !== "SERVICE_UNAVAILABLE") this.end(ENDED);
        throw error;
      })
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  async logout(): Promise<void> {
    try {
      await post(LOGOUT, { token: this.refreshToken }, this.accessToken);
    } finally {
      this.end("You signed out.");
    }
  }

  /** Forget the tokens and go back to sign-in (once). */
  end(why: string = ENDED): void {
    clearTimeout(this.timer);
    if (!this.refreshToken) return;
    this.accessToken = this.refreshToken = "";
    this.onEnded(why);
  }

  private schedule(expiresAt: string): void {
    clearTimeout(this.timer);
    const delay = Math.max(5_000, new Date(expiresAt).getTime() - Date.now() - REFRESH_AHEAD_MS);
    this.timer = window.setTimeout(() => void this.refresh().catch(() => this.retryLater()), delay);
  }

  private retryLater(): void {
    if (this.refreshToken) this.timer = window.setTimeout(() => void this.refresh().catch(() => this.retryLater()), 5_000);
  }
}
