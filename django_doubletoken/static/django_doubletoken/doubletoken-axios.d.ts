// Types for doubletoken-axios.js. Structural, so that this file needs no axios types.
import type { DoubleTokenClient } from "./doubletoken.js";

/** The part of an axios instance the adapter uses. */
export interface AxiosLike {
  interceptors: {
    request: {
      use(onFulfilled: (config: any) => any): number;
      eject(id: number): void;
    };
    response: {
      use(onFulfilled: (response: any) => any, onRejected: (error: any) => any): number;
      eject(id: number): void;
    };
  };
  request(config: any): Promise<any>;
  /** The request's full URL (axios 0.19+); else url resolved against baseURL. */
  getUri?(config: any): string;
}

/** Adds the client's interceptors to an axios instance; returns a function removing them. */
export function attachAxios(instance: AxiosLike, client: DoubleTokenClient): () => void;
