import type { Logger } from "../logger.ts";
import type { StandInStore } from "./store.ts";

/** What every request handler of the stand-in needs. */
export type StandInContext = {
  url: string;
  apiUrl: string;
  reposDir: string;
  store: StandInStore;
  logger: Logger;
};
