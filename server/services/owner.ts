/** The signed-in user a service acts for: every query on user data filters by `userId`. */
export type Owner = { userId: string; auditSubject: string };
