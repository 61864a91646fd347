import type { ActionFunctionArgs } from "@remix-run/node";
import { endSession } from "../lib/auth.server.ts";

export const action = ({ context, request }: ActionFunctionArgs) => endSession(context, request);
