/* Forms that survive sign-ins and sign-outs in other tabs (docs/dashboard.md). */
