/* qhvctl's subcommands, one function each (argv after the subcommand's name;
 * returns the process exit status). */
#ifndef QHV_CTL_QHVCTL_H
#define QHV_CTL_QHVCTL_H

int qctl_dummy(int argc, char **argv);
int qctl_wmimodel(int argc, char **argv);

#endif
