export * from "../wait-for.ts";
export * from "./database.ts";
export * from "./namespace.ts";
export * from "./platform.ts";
export * from "./ports.ts";
export * from "./reserved-lines.ts";
export * from "./tokens.ts";
