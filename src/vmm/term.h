/* The host terminal: raw mode while the guest owns the console, restored on every exit
 * path, including fatal signals (the handler restores, then re-raises). */
#ifndef EMBER_VMM_TERM_H
#define EMBER_VMM_TERM_H

/* Puts fd in raw mode if it is a terminal; 0 if done or not a terminal. */
int term_raw_enter(int fd);
/* Restores the saved mode; safe to call more than once and from a signal handler. */
void term_restore(void);

#endif
