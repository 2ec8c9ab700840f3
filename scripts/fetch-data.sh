#!/usr/bin/env bash
echo 'fetch-data: to be written' >&2
