#include "devices/serial.h"

#include <string.h>

/* Register offsets (DLAB selects the divisor latch at 0 and 1). */
enum { R_DATA = 0, R_IER = 1, R_IIR_FCR = 2, R_LCR = 3, R_MCR = 4, R_LSR = 5, R_MSR = 6, R_SCR = 7 };

#define IER_RDI  0x01   /* receive data available */
#define IER_THRI 0x02   /* transmit holding register empty */
#define IER_RLSI 0x04
#define IER_MSI  0x08
#define IER_MASK 0x0f

#define IIR_NO_INT 0x01
#define IIR_MSI    0x00
#define IIR_THRI   0x02
#define IIR_RDI    0x04
#define IIR_FIFO_ENABLED 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02

#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR   0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI  0x40
#define MSR_DCD 0x80

static int interrupt_condition(const struct serial *s)
{
	return ((s->ier & IER_RDI) && s->rx_count) || ((s->ier & IER_THRI) && s->thre_pending) ||
	       ((s->ier & IER_MSI) && s->msr_delta);
}

/* Re-evaluates the interrupt condition; pulses the line on a rising edge. */
static void update_irq(struct serial *s)
{
	int now = interrupt_condition(s);

	if (now && !s->line && s->irq)
		irq_line_pulse(s->irq);
	s->line = now;
}

static uint8_t iir(const struct serial *s)
{
	uint8_t fifo = (s->fcr & FCR_ENABLE) ? IIR_FIFO_ENABLED : 0;

	if ((s->ier & IER_RDI) && s->rx_count)
		return fifo | IIR_RDI;
	if ((s->ier & IER_THRI) && s->thre_pending)
		return fifo | IIR_THRI;
	if ((s->ier & IER_MSI) && s->msr_delta)
		return fifo | IIR_MSI;
	return fifo | IIR_NO_INT;
}

static uint8_t msr(const struct serial *s)
{
	if (s->mcr & MCR_LOOP) {
		/* Loopback: the modem outputs feed the modem inputs (DTR->DSR, RTS->CTS,
		 * OUT1->RI, OUT2->DCD); Linux's probe checks exactly this. */
		uint8_t m = 0;

		if (s->mcr & 0x01) m |= MSR_DSR;
		if (s->mcr & 0x02) m |= MSR_CTS;
		if (s->mcr & 0x04) m |= MSR_RI;
		if (s->mcr & 0x08) m |= MSR_DCD;
		return m;
	}
	return MSR_DCD | MSR_DSR | MSR_CTS | s->msr_delta;
}

static uint8_t rx_pop(struct serial *s)
{
	uint8_t b;

	if (!s->rx_count)
		return 0;
	b = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_RX_SIZE;
	s->rx_count--;
	if (!s->rx_count && s->rx_drained)
		s->rx_drained(s->rx_ctx);
	return b;
}

static void rx_put(struct serial *s, uint8_t b)
{
	if (s->rx_count == SERIAL_RX_SIZE)
		return;  /* overrun: a real UART drops the byte too */
	s->rx[(s->rx_head + s->rx_count) % SERIAL_RX_SIZE] = b;
	s->rx_count++;
	s->rx_bytes++;
}

void serial_init(struct serial *s, struct irq_line *irq, void (*out)(void *, uint8_t), void *ctx)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->irq = irq;
	s->out = out;
	s->out_ctx = ctx;
	s->lcr = 0x03;       /* 8N1 */
	s->mcr = 0x08;       /* OUT2 */
	s->dll = 0x0c;       /* 9600 baud: what a 16550 comes up with */
	s->thre_pending = 0;
}

void serial_destroy(struct serial *s)
{
	pthread_mutex_destroy(&s->lock);
}

static uint8_t read_reg(struct serial *s, uint64_t off)
{
	uint8_t v;

	switch (off) {
	case R_DATA:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		return rx_pop(s);
	case R_IER:
		if (s->lcr & LCR_DLAB)
			return s->dlm;
		return s->ier;
	case R_IIR_FCR:
		v = iir(s);
		/* Reading IIR while it reports THRE clears that source. */
		if ((v & 0x0f) == IIR_THRI)
			s->thre_pending = 0;
		return v;
	case R_LCR:
		return s->lcr;
	case R_MCR:
		return s->mcr;
	case R_LSR:
		return (uint8_t)(LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0));
	case R_MSR:
		v = msr(s);
		s->msr_delta = 0;
		return v;
	case R_SCR:
		return s->scr;
	default:
		return 0xff;
	}
}

static void write_reg(struct serial *s, uint64_t off, uint8_t v)
{
	switch (off) {
	case R_DATA:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
			return;
		}
		if (s->mcr & MCR_LOOP) {
			rx_put(s, v);   /* loopback: what is sent is received */
		} else {
			s->tx_bytes++;
			if (s->out)
				s->out(s->out_ctx, v);
		}
		/* Transmission is instant: THR is empty again at once. If the previous THRE
		 * interrupt is still unacknowledged (IIR not read), the condition never
		 * dropped, so there is no new edge: one interrupt per burst, like a FIFO. */
		s->thre_pending = 1;
		return;
	case R_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			return;
		}
		/* Enabling the THRE interrupt while THR is empty raises it at once, as on a
		 * real 16550 (Linux's THRE test at startup depends on it). */
		if ((v & IER_THRI) && !(s->ier & IER_THRI))
			s->thre_pending = 1;
		s->ier = v & IER_MASK;
		return;
	case R_IIR_FCR:
		s->fcr = v & 0xc9;
		if (v & FCR_CLEAR_RX) {
			s->rx_head = s->rx_count = 0;
			if (s->rx_drained)
				s->rx_drained(s->rx_ctx);
		}
		return;
	case R_LCR:
		s->lcr = v;
		return;
	case R_MCR:
		s->mcr = v & MCR_MASK;
		return;
	case R_SCR:
		s->scr = v;
		return;
	default:
		return;  /* LSR and MSR are read-only */
	}
}

void serial_pio_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct serial *s = opaque;

	pthread_mutex_lock(&s->lock);
	data[0] = read_reg(s, offset);
	for (uint32_t i = 1; i < len; i++)
		data[i] = 0xff;
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

void serial_pio_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct serial *s = opaque;

	if (len != 1)
		return;  /* the 8250 is byte-wide; wider accesses are dropped */
	pthread_mutex_lock(&s->lock);
	write_reg(s, offset, data[0]);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

size_t serial_rx_push(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < len && s->rx_count < SERIAL_RX_SIZE)
		rx_put(s, buf[n++]);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_rx_space(struct serial *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = SERIAL_RX_SIZE - s->rx_count;
	pthread_mutex_unlock(&s->lock);
	return n;
}
