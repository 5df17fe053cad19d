"""The Coalition portal: the web door for co-chairs, partners, national authorities and staff."""
