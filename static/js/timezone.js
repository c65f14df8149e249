/* The viewer's time zone: tells the server the browser's zone (docs/dashboard.md). */
