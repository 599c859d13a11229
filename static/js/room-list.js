import { formatAllTimes } from "./times.js";

formatAllTimes(document);
