import type { LoaderFunctionArgs } from "@remix-run/node";
import { startSignIn } from "../lib/auth.server.ts";

export const loader = ({ context, request }: LoaderFunctionArgs) => startSignIn(context, request);
