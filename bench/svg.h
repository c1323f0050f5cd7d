/* SPDX-License-Identifier: MIT */
/*
 * svg.h - a horizontal bar chart of ratios on a log scale centred on 1, as
 * a standalone SVG file: one bar per ratio (median), a whisker from min to
 * max, bars above 1 in one colour and below 1 in another.
 */
#ifndef FB_SVG_H
#define FB_SVG_H

struct fb_bar {
	char group[48]; /* a heading line drawn when it changes */
	char label[64];
	double median, min, max;
};

/* Writes the chart to path. Returns 0, or -1 with errno set. */
int fb_svg_write(const char *path, const char *title, const struct fb_bar *bars,
		 unsigned n);

#endif /* FB_SVG_H */
