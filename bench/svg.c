/* SPDX-License-Identifier: MIT */
/* svg.c - the ratio bar chart of svg.h. */
#include "config.h"

#include "svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define LABEL_W	  260 /* left column: labels */
#define PLOT_W	  480 /* the bars */
#define VALUE_W	  80  /* right column: the median */
#define ROW_H	  18
#define HEAD_H	  22
#define TOP	  56
#define LOG2_SPAN 5.0 /* the axis spans 1/32 .. 32 */

/* x of ratio r on the log axis. */
static double xpos(double r)
{
	double l = log2(r);

	if (l > LOG2_SPAN)
		l = LOG2_SPAN;
	if (l < -LOG2_SPAN)
		l = -LOG2_SPAN;
	return LABEL_W + PLOT_W / 2.0 + l * (PLOT_W / 2.0) / LOG2_SPAN;
}

static void text(FILE *f, double x, double y, const char *anchor,
		 const char *style, const char *s)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" %s>", x, y,
		anchor, style);
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else
			fputc(*s, f);
	}
	fputs("</text>\n", f);
}

int fb_svg_write(const char *path, const char *title, const struct fb_bar *bars,
		 unsigned n)
{
	unsigned groups = 0;
	double height, y;
	FILE *f;
	int rc;

	for (unsigned i = 0; i < n; i++)
		if (i == 0 || strcmp(bars[i].group, bars[i - 1].group) != 0)
			groups++;
	height = TOP + groups * HEAD_H + n * ROW_H + 40;
	f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
		LABEL_W + PLOT_W + VALUE_W, height);
	text(f, 8, 20, "start", "font-size=\"15\" font-weight=\"bold\"", title);
	text(f, 8, 38, "start", "fill=\"#555\"",
	     "ratio > 1: the first implementation did better (log scale; "
	     "whiskers: min..max of the rounds)");
	/* Axis: grid lines at powers of two. */
	for (int e = -(int)LOG2_SPAN; e <= (int)LOG2_SPAN; e++) {
		double x = xpos(pow(2, e));
		char lab[16];

		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.0f\" "
			"stroke=\"%s\"/>\n",
			x, TOP - 6, x, height - 30, e == 0 ? "#000" : "#ddd");
		snprintf(lab, sizeof(lab), e >= 0 ? "%.0fx" : "1/%.0f",
			 pow(2, e >= 0 ? e : -e));
		text(f, x, height - 16, "middle", "fill=\"#555\"", lab);
	}
	y = TOP;
	for (unsigned i = 0; i < n; i++) {
		const struct fb_bar *b = &bars[i];
		double x0 = xpos(1), x1, cy;
		char val[32];

		if (i == 0 || strcmp(b->group, bars[i - 1].group) != 0) {
			y += HEAD_H;
			text(f, 8, y - 6, "start", "font-weight=\"bold\"",
			     b->group);
		}
		cy = y + ROW_H / 2.0;
		text(f, LABEL_W - 8, cy + 4, "end", "", b->label);
		if (isnan(b->median)) {
			text(f, x0 + 4, cy + 4, "start", "fill=\"#999\"",
			     "n/a");
			y += ROW_H;
			continue;
		}
		x1 = xpos(b->median);
		fprintf(f,
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			"height=\"%d\" fill=\"%s\"/>\n",
			x1 < x0 ? x1 : x0, y + 3, fabs(x1 - x0), ROW_H - 6,
			b->median >= 1 ? "#2e7d32" : "#c62828");
		if (!isnan(b->min) && !isnan(b->max))
			fprintf(f,
				"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
				"y2=\"%.1f\" stroke=\"#333\"/>\n",
				xpos(b->min), cy, xpos(b->max), cy);
		snprintf(val, sizeof(val), "%.2fx", b->median);
		text(f, LABEL_W + PLOT_W + 8, cy + 4, "start", "", val);
		y += ROW_H;
	}
	fputs("</svg>\n", f);
	rc = ferror(f) ? -1 : 0;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}
