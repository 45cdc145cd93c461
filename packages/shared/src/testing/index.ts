export * from "./database.ts";
export * from "./namespace.ts";
export * from "./tokens.ts";
export * from "../wait-for.ts";
