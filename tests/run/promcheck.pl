#!/usr/bin/perl
# promcheck.pl FILE - a strict reader of the Prometheus text exposition format 0.0.4
# (Prometheus docs, "Exposition formats", text-based format), for t_run_metrics.sh: every
# line a HELP, a TYPE or a sample; metric and label names by the format's grammar; label
# values with only \\, \" and \n escapes; values as the format's floats; a family's TYPE
# before its samples, its samples contiguous, no family twice, no sample twice, counters
# ending in _total and never negative; the file ends with a newline. Prints every sample as
# "name{labels} value" (labels sorted) on stdout, or the first error on stderr and exits 1.
use strict;
use warnings;
local $/;
open(my $f, "<", $ARGV[0]) or die "cannot open $ARGV[0]: $!\n";
my $text = <$f>;
sub bad { print STDERR "$ARGV[0]: line $_[0]: $_[1]\n"; exit 1 }
bad(0, "empty") unless length $text;
bad(0, "does not end with a newline") unless $text =~ /\n\z/;
my $name_re = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
my (%type, %help, %done, %seen, $cur);
my $ln = 0;
for my $line (split /\n/, $text) {
	$ln++;
	if ($line =~ /^# HELP ($name_re) (.*)$/) {
		bad($ln, "second HELP for $1") if $help{$1}++;
		next;
	}
	if ($line =~ /^# TYPE ($name_re) (counter|gauge|histogram|summary|untyped)$/) {
		bad($ln, "second TYPE for $1") if exists $type{$1};
		bad($ln, "TYPE for $1 after its samples") if $done{$1} || (defined $cur && $cur eq $1);
		$type{$1} = $2;
		$done{$cur} = 1 if defined $cur;
		$cur = $1;
		next;
	}
	bad($ln, "a comment that is neither HELP nor TYPE: '$line'") if $line =~ /^#/;
	bad($ln, "an empty line") if $line eq '';
	$line =~ /^($name_re)(?:\{(.*)\})? ([^ ]+)(?: (-?\d+))?$/ or bad($ln, "not a sample: '$line'");
	my ($name, $labels, $value) = ($1, $2 // '', $3);
	bad($ln, "sample of $name without a TYPE") unless exists $type{$name};
	bad($ln, "samples of $name are not contiguous") if $done{$name} || $cur ne $name;
	bad($ln, "value '$value' is not a number")
	    unless $value =~ /^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]?Inf|NaN)$/;
	my %l;
	my $rest = $labels;
	while (length $rest) {
		$rest =~ s/^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)//
		    or bad($ln, "bad labels '$labels' (at '$rest')");
		bad($ln, "label $1 twice") if exists $l{$1};
		$l{$1} = $2;
		last if $3 eq '' && !length $rest;
	}
	if ($type{$name} eq 'counter') {
		bad($ln, "counter $name does not end in _total") unless $name =~ /_total$/;
		bad($ln, "counter $name is negative") if $value =~ /^-/;
	}
	my $key = $name . '{' . join(',', map { "$_=\"$l{$_}\"" } sort keys %l) . '}';
	bad($ln, "sample $key twice") if $seen{$key}++;
	print "$key $value\n";
}
