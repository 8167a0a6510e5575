/** A small JSON client for setting up and verifying load runs through the public API only. */
export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export interface Envelope<T> {
  success: boolean;
  data: T;
  meta?: { page: number; limit: number; total: number; totalPages: number };
}

export interface Problem {
  status: number;
  code: string;
  detail?: string;
}

export class ApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`${method} ${path} answered ${status}: ${JSON.stringify(body).slice(0, 300)}`);
  }
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Statuses that are not an error for this call (default: 2xx only). */
  accept?: number[];
}

export class Api {
  constructor(readonly baseUrl: string) {}

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
    const text = await res.text();
    const body = (text ? JSON.parse(text) : null) as T;
    const ok = opts.accept ? opts.accept.includes(res.status) : res.status >= 200 && res.status < 300;
    if (!ok) throw new ApiError(method, path, res.status, body);
    return { status: res.status, headers: res.headers, body };
  }

  async data<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    return (await this.request<Envelope<T>>(method, path, opts)).body.data;
  }

  /** Every item of a paged list, page by page (limit 100, the contract's maximum). */
  async all<T>(path: string, token?: string): Promise<T[]> {
    const items: T[] = [];
    const sep = path.includes('?') ? '&' : '?';
    for (let page = 1; ; page++) {
      const { body } = await this.request<Envelope<T[]>>('GET', `${path}${sep}page=${page}&limit=100`, { token });
      items.push(...body.data);
      if (!body.meta || page >= body.meta.totalPages) return items;
    }
  }
}

/** Runs `work` over `items` with at most `concurrency` in flight; results in input order. */
export async function pool<I, O>(items: readonly I[], concurrency: number, work: (item: I, index: number) => Promise<O>): Promise<O[]> {
  const results = new Array<O>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as I, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
