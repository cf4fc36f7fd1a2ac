// The GraphQL client: queries over POST /graphql, the publications
// subscription over graphql-ws on the same path.

import { createClient, type Client } from 'graphql-ws';

/** An error the API answered, with its stable `extensions.code`. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

interface Answer<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** Runs a query; the API's first error is thrown as an `ApiError`. */
export async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
  } catch (e) {
    throw new ApiError(`the server did not answer (${String(e)})`, 'UNAVAILABLE');
  }
  let body: Answer<T>;
  try {
    body = (await res.json()) as Answer<T>;
  } catch {
    throw new ApiError(`the server answered ${res.status} without JSON`, 'UNAVAILABLE');
  }
  const first = body.errors?.[0];
  if (first) throw new ApiError(first.message, first.extensions?.code);
  if (!body.data) throw new ApiError(`the server answered ${res.status} with no data`, 'UNAVAILABLE');
  return body.data;
}

let client: Client | undefined;

function wsClient(): Client {
  if (!client) {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    client = createClient({
      url: `${proto}//${location.host}/graphql`,
      lazy: true,
      retryAttempts: 1000,
      shouldRetry: () => true,
    });
  }
  return client;
}

/** Subscribes; returns the function that ends the subscription. */
export function subscribe<T>(
  query: string,
  onData: (data: T) => void,
  onError: (message: string) => void,
  onConnected?: () => void,
): () => void {
  const c = wsClient();
  const off = onConnected ? c.on('connected', onConnected) : () => undefined;
  const end = c.subscribe<T>(
    { query },
    {
      next: (v) => {
        if (v.errors?.[0]) onError(v.errors[0].message);
        else if (v.data) onData(v.data as T);
      },
      error: (e) => onError(e instanceof Error ? e.message : 'the live feed closed'),
      complete: () => undefined,
    },
  );
  return () => {
    off();
    end();
  };
}
