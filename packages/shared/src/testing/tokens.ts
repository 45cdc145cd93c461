import { SignJWT } from "jose";
import { DEV_JWT_SECRET } from "../config.ts";
import type { Role } from "../http/auth.ts";

/** Mints an HS256 bearer token like the storefront's identity provider would. */
export async function signToken(
  {
    sub,
    role = "customer",
    email,
    expiresIn = "1h",
  }: { sub: string; role?: Role; email?: string; expiresIn?: string },
  secret = DEV_JWT_SECRET,
) {
  return new SignJWT({ role, ...(email ? { email } : {}) })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));
}
