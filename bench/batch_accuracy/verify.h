/* Checks a bench-batch-accuracy scenario against itself before anything is scored, so a wrong
 * score can only come from the reconciler:
 * - config.yaml, meters.yaml and seasonal_patterns.yaml load with the project's own loader without
 *   errors or warnings; every physical meter has its installation_date (and deinstallation_date
 *   when replaced), its grid in truth_daily.csv runs from it to the deinstallation or today; every
 *   master's periods name the old and the new register, split at the old one's removal; a meter
 *   has a pattern exactly when truth_meters.csv says so;
 * - every reading lies between the true registers at the midnights around it, within the
 *   resolution below (a reading exactly at a midnight equals that day's register within it);
 *   every transient zero is 0; readings lie within the register's installation;
 * - each day's consumption is the difference of the registers (but across a reset), and a master's
 *   is its source's (on the swap day at least the new register's part);
 * - the true use of the configured meters' full calendar years follows their monthly
 *   percentages: the mean absolute difference of the months' shares is small;
 * - interior reading gaps are at most 90 days (the generator's longest interval), and how many
 *   fall in each class the score uses. */
#ifndef NEBENKOSTEN_BENCH_BATCH_ACCURACY_VERIFY_H
#define NEBENKOSTEN_BENCH_BATCH_ACCURACY_VERIFY_H

#include <stdio.h>

#include "bench/batch_accuracy/truth.h"

/* Checks the scenario in dir (truth is its loaded content; both borrowed) and prints one line per
 * check to out, with the first few offenders of a failed one. Returns 0 when every check passed,
 * else -1. */
int accuracy_scenario_verify(const char *dir, const struct accuracy_truth *truth, FILE *out);

#endif
