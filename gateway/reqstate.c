/*
 * reqstate.c: find or create a request's state; drop what it holds when the
 * request's pool is cleared. See reqstate.h.
 */
#include "reqstate.h"
#include "server.h"
#include "util.h"

#include <string.h>
#include <time.h>

#define ENV_NAME "hubgate.state"

uint64_t hg_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_dispose(void *p)
{
    hg_reqstate_t *st = p;
    if (st->has_body)
        hg_body_result_dispose(&st->body);
    if (st->principal != NULL)
        hg_principal_release(st->principal);
    hg_config_release(st->config);
    __atomic_sub_fetch(&st->worker->inflight, 1, __ATOMIC_RELEASE);
}

static void take_request_id(h2o_req_t *req, hg_reqstate_t *st, hg_worker_t *worker)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-request-id"), -1);
    if (i >= 0) {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (hg_reqid_is_valid(v.base, v.len)) {
            memcpy(st->request_id, v.base, v.len);
            st->request_id[v.len] = '\0';
            return;
        }
    }
    hg_uuid7_next(&worker->rng, st->request_id);
}

hg_reqstate_t *hg_reqstate_get(h2o_req_t *req, int create)
{
    for (size_t i = 0; i < req->env.size; i += 2) {
        h2o_iovec_t name = req->env.entries[i];
        if (name.len == sizeof(ENV_NAME) - 1 && memcmp(name.base, ENV_NAME, name.len) == 0)
            return (hg_reqstate_t *)req->env.entries[i + 1].base;
    }
    if (!create)
        return NULL;

    hg_worker_t *worker = hg_server_worker_of(req->conn->ctx);
    hg_reqstate_t *st = h2o_mem_alloc_shared(&req->pool, sizeof(*st), on_dispose);
    memset(st, 0, sizeof(*st));
    st->worker = worker;
    st->config = hg_config_retain(worker->config);
    st->started_ns = hg_mono_ns();
    st->started_ms =
        (uint64_t)req->timestamps.request_begin_at.tv_sec * 1000 + (uint64_t)req->timestamps.request_begin_at.tv_usec / 1000;
    if (st->started_ms == 0)
        st->started_ms = hg_now_ms();
    st->num_errors = -1;
    take_request_id(req, st, worker);
    __atomic_add_fetch(&worker->inflight, 1, __ATOMIC_RELAXED);

    h2o_iovec_t *slot = h2o_req_getenv(req, H2O_STRLIT(ENV_NAME), 1);
    *slot = h2o_iovec_init(st, 0);
    return st;
}
