import type { LoaderFunctionArgs } from "@remix-run/node";
import { finishSignIn } from "../lib/auth.server.ts";

export const loader = ({ context, request }: LoaderFunctionArgs) => finishSignIn(context, request);
