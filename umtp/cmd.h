/*
 * cmd.h - the two subcommands of umtp(1); main.c dispatches on argv[1]
 * and hands each the remaining arguments (argv[0] is the subcommand).
 * Each returns the process exit status (sysexits).
 */
#ifndef LEAFMAIL_UMTP_CMD_H
#define LEAFMAIL_UMTP_CMD_H

int send_main(int argc, char **argv);
int receive_main(int argc, char **argv);

#endif
