/*
 * devices.c - the mini-VMM's device models. Each is small on purpose: enough for a guest to
 * print, to end with a code, and to make the memory accesses KVM cannot finish.
 *
 *   console  port P: a byte written to P is output; P+5 (the 16550 line status register)
 *            reads 0x60 (transmitter empty), so guests written for a UART may poll it.
 *            At an MMIO page A (at: A; arm64 has no ports) the same registers are at A and
 *            A+5, and a wider store at A outputs each of its bytes, lowest address first.
 *   done     port P: a 1/2/4-byte write ends the guest with code = the value written
 *            (all of it: a code of 0x100 cut to its low byte read as 0, success). At an
 *            MMIO page the register is at A, 1 to 8 bytes; a value past 32 bits is code
 *            0xffffffff (never cut to a success).
 *   ram      an MMIO window with memory behind it: reads return what was written.
 *   pattern  an MMIO window whose reads return a fixed pattern a guest can recompute;
 *            writes are dropped (and counted).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend/kvm/vmm.h"

uint64_t xg_devs_pattern_word(uint64_t off)
{
	return 0x0123456789abcdefull ^ ((off / 8 + 1) * 0x9e3779b97f4a7c15ull);
}

int xg_devs_init(struct xg_devs *ds, const struct xg_vm_cfg *vm, const char *guest, FILE *out,
		 struct xg_error *err)
{
	pthread_mutex_t *lock = malloc(sizeof(*lock));

	memset(ds, 0, sizeof(*ds));
	ds->guest = guest;
	ds->out = out;
	ds->d = calloc(vm->ndevs ? vm->ndevs : 1, sizeof(*ds->d));
	if (!ds->d || !lock) {
		free(lock);
		snprintf(err->msg, sizeof(err->msg), "out of memory for the devices of %s", guest);
		return -1;
	}
	pthread_mutex_init(lock, NULL);
	ds->lock = lock;
	for (size_t i = 0; i < vm->ndevs; i++) {
		ds->d[i].cfg = &vm->devs[i];
		if (vm->devs[i].type == XG_DEV_RAM && !(ds->d[i].mem = calloc(1, vm->devs[i].size))) {
			snprintf(err->msg, sizeof(err->msg),
				 "out of memory for the %llu-byte ram device of %s",
				 (unsigned long long)vm->devs[i].size, guest);
			ds->n = i;
			return -1;
		}
		ds->n = i + 1;
	}
	return 0;
}

void xg_devs_free(struct xg_devs *ds)
{
	for (size_t i = 0; i < ds->n; i++)
		free(ds->d[i].mem);
	free(ds->d);
	if (ds->lock) {
		pthread_mutex_destroy(ds->lock);
		free(ds->lock);
	}
	memset(ds, 0, sizeof(*ds));
}

static struct xg_dev *find(struct xg_devs *ds, int port_dev, uint64_t a, uint64_t len)
{
	for (size_t i = 0; i < ds->n; i++) {
		const struct xg_dev_cfg *c = ds->d[i].cfg;
		if (c->port == port_dev && a >= c->at && a - c->at + len <= c->size)
			return &ds->d[i];
	}
	return NULL;
}

static void console_put(struct xg_devs *ds, struct xg_dev *d, uint8_t ch)
{
	if (ch == '\r')
		return;
	if (ch != '\n' && d->len < sizeof(d->line) - 1) {
		/* what a terminal could not show is shown as '.' */
		d->line[d->len++] = (char)(ch >= 0x20 && ch < 0x7f ? ch : '.');
		return;
	}
	d->line[d->len] = 0;
	/* a status line on the same terminal is erased first (vmm.c redraws it) */
	fprintf(ds->out, "%s%s| %s\n", ds->erase && atomic_load(ds->erase) ? "\r\033[K" : "",
		ds->guest, d->line);
	fflush(ds->out);
	d->len = 0;
	if (ch != '\n')
		console_put(ds, d, ch);
}

void xg_devs_flush(struct xg_devs *ds)
{
	for (size_t i = 0; i < ds->n; i++)
		if (ds->d[i].cfg->type == XG_DEV_CONSOLE && ds->d[i].len)
			console_put(ds, &ds->d[i], '\n');
}

int xg_devs_io(struct xg_devs *ds, uint16_t port, int is_write, void *data, unsigned size)
{
	struct xg_dev *d;
	uint64_t v = 0;

	pthread_mutex_lock(ds->lock);
	d = find(ds, 1, port, 1);
	if (!d) {
		pthread_mutex_unlock(ds->lock);
		return 0;
	}
	if (is_write) {
		d->writes++;
		memcpy(&v, data, size > 8 ? 8 : size);
		if (d->cfg->type == XG_DEV_CONSOLE && port == d->cfg->at)
			for (unsigned i = 0; i < size; i++)
				console_put(ds, d, ((uint8_t *)data)[i]);
		else if (d->cfg->type == XG_DEV_DONE && !ds->done) {
			ds->done = 1;
			ds->code = (uint32_t)v;
		}
	} else {
		d->reads++;
		memset(data, 0, size);
		if (d->cfg->type == XG_DEV_CONSOLE && port == d->cfg->at + 5)
			*(uint8_t *)data = 0x60;
	}
	pthread_mutex_unlock(ds->lock);
	return 1;
}

/* console and done at an MMIO page (ds->lock held): registers at offsets 0 and 5, the rest
 * reads as 0 and ignores writes. */
static void regs_mmio(struct xg_devs *ds, struct xg_dev *d, uint64_t off, int is_write, void *data,
		      unsigned len)
{
	uint64_t v = 0;

	if (!is_write) {
		d->reads++;
		memset(data, 0, len);
		if (d->cfg->type == XG_DEV_CONSOLE && off <= 5 && off + len > 5)
			((uint8_t *)data)[5 - off] = 0x60;
		return;
	}
	d->writes++;
	if (off != 0)
		return;
	memcpy(&v, data, len > 8 ? 8 : len);
	if (d->cfg->type == XG_DEV_CONSOLE) {
		for (unsigned i = 0; i < len; i++)
			console_put(ds, d, ((uint8_t *)data)[i]);
	} else if (!ds->done) {
		ds->done = 1;
		ds->done_mmio = 1;
		ds->code = v > 0xffffffffull ? 0xffffffffu : (uint32_t)v;
	}
}

int xg_devs_mmio(struct xg_devs *ds, uint64_t gpa, int is_write, void *data, unsigned len)
{
	struct xg_dev *d;
	uint64_t off;

	pthread_mutex_lock(ds->lock);
	d = find(ds, 0, gpa, len);
	if (!d) {
		pthread_mutex_unlock(ds->lock);
		return 0;
	}
	off = gpa - d->cfg->at;
	if (d->cfg->type == XG_DEV_CONSOLE || d->cfg->type == XG_DEV_DONE) {
		regs_mmio(ds, d, off, is_write, data, len);
		pthread_mutex_unlock(ds->lock);
		return 1;
	}
	if (is_write) {
		d->writes++;
		if (d->cfg->type == XG_DEV_RAM)
			memcpy(d->mem + off, data, len);
	} else {
		d->reads++;
		if (d->cfg->type == XG_DEV_RAM) {
			memcpy(data, d->mem + off, len);
		} else {
			for (unsigned i = 0; i < len; i++) {
				uint64_t w = xg_devs_pattern_word(off + i);
				((uint8_t *)data)[i] = (uint8_t)(w >> (8 * ((off + i) & 7)));
			}
		}
	}
	pthread_mutex_unlock(ds->lock);
	return 1;
}
