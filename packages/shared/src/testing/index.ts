export * from "../wait-for.ts";
export * from "./database.ts";
export * from "./namespace.ts";
export * from "./tokens.ts";
