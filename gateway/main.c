/*
 * main.c: the hubgate command.
 *
 *   hubgate [-c FILE]          run the gateway (default conf/hubgate.yaml)
 *   hubgate -t [-c FILE]       check the configuration and exit
 *   hubgate audit [options]    query the audit store (audit_cli.c)
 *   hubgate --version | --help
 *
 * The main thread owns the process: it loads the configuration, starts the
 * audit writer, the workers and the admin listener, then waits for signals:
 * SIGTERM/SIGINT drain and exit 0, SIGHUP reloads the policy from the same
 * file (a file that fails the checks of -t is refused and the old policy
 * stays), SIGUSR1 reopens the log files. The only globals of the program
 * live here, and there are none: state is on main's stack.
 */
#include "admin.h"
#include "audit.h"
#include "audit_cli.h"
#include "config.h"
#include "log.h"
#include "server.h"
#include "util.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CONFIG "conf/hubgate.yaml"

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: hubgate [-c FILE]             run the gateway (default %s)\n"
            "       hubgate -t [-c FILE]          check the configuration and exit\n"
            "       hubgate audit [--db FILE | -c FILE] [--since T] [--until T] [--subject S] [--client C]\n"
            "                     [--route R] [--decision D] [--status N] [--request-id ID] [--object-id ID]\n"
            "                     [--limit N] [--cursor C] [--format table|jsonl]\n"
            "       hubgate --version | --help\n"
            "signals: TERM/INT drain and exit, HUP reloads the policy, USR1 reopens log files\n",
            DEFAULT_CONFIG);
}

static void print_problems(const hg_violations_t *errors)
{
    for (size_t i = 0; i != errors->count; ++i)
        fprintf(stderr, "%s\n", errors->items[i].message);
    if (errors->dropped != 0)
        fprintf(stderr, "(%zu more problems)\n", errors->dropped);
}

static hg_config_t *load(const char *path, hg_violations_t *errors)
{
    hg_violations_init(errors, HG_VIOLATIONS_MAX);
    return hg_config_load(path, errors);
}

/* the configuration at path, or NULL with every problem printed to stderr (startup and -t) */
static hg_config_t *load_or_print(const char *path)
{
    hg_violations_t errors;
    hg_config_t *config = load(path, &errors);
    if (config == NULL)
        print_problems(&errors);
    hg_violations_clear(&errors);
    return config;
}

static void log_restart_needed(hg_log_t *log, const hg_config_t *old, const hg_config_t *new)
{
    int listeners_changed = old->num_listeners != new->num_listeners;
    for (size_t i = 0; !listeners_changed && i != old->num_listeners; ++i)
        listeners_changed = strcmp(old->listeners[i].address, new->listeners[i].address) != 0 ||
                            (old->listeners[i].tls_certificate == NULL) != (new->listeners[i].tls_certificate == NULL);
    if (listeners_changed)
        hg_log(log, HG_LOG_WARN, "reload", "listen changed: it takes effect after a restart");
    if (old->workers != new->workers)
        hg_log(log, HG_LOG_WARN, "reload", "workers changed: it takes effect after a restart");
    if (strcmp(old->upstream.url, new->upstream.url) != 0 || old->upstream.io_timeout_ms != new->upstream.io_timeout_ms ||
        old->upstream.keepalive_timeout_ms != new->upstream.keepalive_timeout_ms)
        hg_log(log, HG_LOG_WARN, "reload", "upstream url or timeouts changed: they take effect after a restart");
    if (old->limits.max_body_bytes != new->limits.max_body_bytes)
        hg_log(log, HG_LOG_WARN, "reload", "limits.max_body_bytes changed: h2o's own limit follows after a restart");
    if (!json_equal(json_object_get(old->doc, "audit"), json_object_get(new->doc, "audit")))
        hg_log(log, HG_LOG_WARN, "reload", "audit changed: it takes effect after a restart");
    if ((old->admin.listen == NULL) != (new->admin.listen == NULL) ||
        (old->admin.listen != NULL && strcmp(old->admin.listen, new->admin.listen) != 0))
        hg_log(log, HG_LOG_WARN, "reload", "admin.listen changed: it takes effect after a restart");
}

static void reload(hg_server_t *server, hg_log_t *log, const char *path)
{
    hg_violations_t errors;
    hg_config_t *config = load(path, &errors);
    if (config == NULL) {
        for (size_t i = 0; i != errors.count; ++i)
            hg_log(log, HG_LOG_ERROR, "reload", "%s", errors.items[i].message);
        hg_log(log, HG_LOG_ERROR, "reload", "refused: the running configuration stays");
        hg_violations_clear(&errors);
        __atomic_add_fetch(&server->reloads_failed, 1, __ATOMIC_RELAXED);
        return;
    }
    hg_violations_clear(&errors);
    hg_auth_start(config->auth);
    hg_config_t *old = hg_server_config(server);
    log_restart_needed(log, old, config);
    hg_config_release(old);
    __atomic_store_n(&log->level, config->log.level, __ATOMIC_RELAXED);
    __atomic_add_fetch(&server->reloads_ok, 1, __ATOMIC_RELAXED); /* before any worker can answer with it */
    hg_server_swap_config(server, config);
    hg_log(log, HG_LOG_INFO, "reload", "configuration reloaded from %s", path);
}

static int serve(const char *path)
{
    hg_log_t log = {HG_LOG_INFO};
    hg_config_t *config = load_or_print(path);
    if (config == NULL)
        return 1;
    log.level = config->log.level;

    /* every thread started from here on inherits this mask: signals are taken by sigwait below */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    hg_audit_t *audit = NULL;
    if (config->audit == NULL || !json_is_null(json_object_get(config->audit, "sqlite")) ||
        json_is_string(json_object_get(config->audit, "jsonl"))) {
        hg_violations_t errors;
        hg_violations_init(&errors, HG_VIOLATIONS_MAX);
        json_t *empty = json_object();
        audit = hg_audit_new(config->audit != NULL ? config->audit : empty, config->basedir, &errors);
        json_decref(empty);
        if (audit == NULL || hg_audit_start(audit, &errors) != 0) {
            for (size_t i = 0; i != errors.count; ++i)
                hg_log(&log, HG_LOG_ERROR, "audit", "%s: %s", errors.items[i].in, errors.items[i].message);
            hg_violations_clear(&errors);
            return 1;
        }
        hg_violations_clear(&errors);
    }
    hg_auth_start(config->auth);

    hg_server_t server;
    if (hg_server_init(&server, config, audit, &log) != 0 || hg_server_start(&server) != 0)
        return 1;
    hg_admin_t *admin = NULL;
    if (config->admin.listen != NULL && (admin = hg_admin_start(&server, config->admin.listen, &log)) == NULL)
        return 1;

    for (;;) {
        int sig;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            reload(&server, &log, path);
        } else if (sig == SIGUSR1) {
            hg_server_reopen_logs(&server);
            hg_log(&log, HG_LOG_INFO, "reopen", "log files reopened");
        } else {
            break;
        }
    }

    hg_config_t *current = hg_server_config(&server);
    uint64_t timeout = current->shutdown_timeout_ms;
    hg_config_release(current);
    hg_log(&log, HG_LOG_INFO, "draining", "stopped accepting; waiting up to %llu ms for requests in flight",
           (unsigned long long)timeout);
    size_t left = hg_server_drain(&server, timeout);
    if (left != 0)
        hg_log(&log, HG_LOG_WARN, "draining", "%zu requests still in flight at the deadline", left);
    if (audit != NULL) {
        hg_audit_stop(audit, (int64_t)timeout);
        hg_audit_stats_t stats;
        hg_audit_stats(audit, &stats);
        hg_log(&log, HG_LOG_INFO, "audit", "%llu records written, %llu dropped", (unsigned long long)stats.written,
               (unsigned long long)stats.dropped);
    }
    if (admin != NULL)
        hg_admin_stop(admin);
    hg_server_dispose(&server);
    hg_audit_free(audit);
    hg_log(&log, HG_LOG_INFO, "stopped", "bye");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "audit") == 0)
        return hg_audit_cli_main(argc - 1, argv + 1, hg_config_audit_db);

    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"test", no_argument, NULL, 't'},
                                             {"version", no_argument, NULL, 'v'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *path = DEFAULT_CONFIG;
    int test = 0, ch;
    while ((ch = getopt_long(argc, argv, "c:th", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            path = optarg;
            break;
        case 't':
            test = 1;
            break;
        case 'v':
            printf("hubgate %s\n", HUBGATE_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (test) {
        hg_config_t *config = load_or_print(path);
        if (config == NULL)
            return 1;
        hg_config_release(config);
        printf("configuration OK\n");
        return 0;
    }
    return serve(path);
}
