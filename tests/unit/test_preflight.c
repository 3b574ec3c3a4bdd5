/* Preflight comparisons: Solo5 abi and devices, and which URLs reach one server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "common/error.h"
#include "deploy/solo5.h"
#include "fetcher/http.h"

/* The err of the calls under test; reset where a test needs a fresh one. */
static struct petrel_err terr;

static void devices_covered(void **state)
{
	char missing[256];

	(void)state;
	assert_int_equal(petrel_solo5_devices_cover("", "", missing, sizeof(missing)), 0);
	assert_int_equal(petrel_solo5_devices_cover("net:service", "net service\n", missing,
						    sizeof(missing)), 0);
	assert_int_equal(petrel_solo5_devices_cover("net:service block:storage",
						    "block storage\nnet service\nnet extra\n",
						    missing, sizeof(missing)), 0);
	assert_string_equal(missing, "");
	/* the last line need not end in a newline */
	assert_int_equal(petrel_solo5_devices_cover("block:b", "net a\nblock b", missing,
						    sizeof(missing)), 0);
}

static void devices_missing(void **state)
{
	char missing[256];

	(void)state;
	assert_int_equal(petrel_solo5_devices_cover("net:service", "", missing, sizeof(missing)),
			 -PETREL_EPOLICY);
	assert_string_equal(missing, "net:service");
	/* the right name with the wrong type, a prefix, a longer name: not the device */
	assert_int_equal(petrel_solo5_devices_cover("net:service block:data",
						    "block service\nnet serv\nblock database\n",
						    missing, sizeof(missing)), -PETREL_EPOLICY);
	assert_string_equal(missing, "net:service block:data");
	/* a type petrel does not know is never covered */
	assert_int_equal(petrel_solo5_devices_cover("future_dev:x", "net x\nblock x\n", missing,
						    sizeof(missing)), -PETREL_EPOLICY);
	assert_string_equal(missing, "future_dev:x");
}

static void abi(void **state)
{
	struct petrel_target t;
	struct petrel_build b;

	(void)state;
	memset(&t, 0, sizeof(t));
	memset(&b, 0, sizeof(b));
	assert_int_equal(petrel_solo5_abi_check(&t, &b, &terr), 0);
	strcpy(b.solo5_abi, "spt");
	assert_int_equal(petrel_solo5_abi_check(&t, &b, &terr), 0);	/* target says nothing */
	strcpy(t.abi, "spt");
	assert_int_equal(petrel_solo5_abi_check(&t, &b, &terr), 0);
	strcpy(t.abi, "hvt");
	assert_int_equal(petrel_solo5_abi_check(&t, &b, &terr), -PETREL_EPOLICY);
	assert_non_null(strstr(terr.msg, "'spt'"));
	assert_non_null(strstr(terr.msg, "'hvt'"));
	petrel_err_reset(&terr);
	b.solo5_abi[0] = '\0';	/* not a Solo5 binary (or an older server): no claim */
	assert_int_equal(petrel_solo5_abi_check(&t, &b, &terr), 0);
}

static void same_server(void **state)
{
	char o[128];

	(void)state;
	assert_true(petrel_url_same_server("http://127.0.0.1:8080", "http://localhost:8080"));
	assert_true(petrel_url_same_server("http://127.0.0.1:8080", "http://127.1:8080/."));
	assert_true(petrel_url_same_server("HTTP://LocalHost:80/x", "http://127.0.0.1"));
	assert_true(petrel_url_same_server("https://[::1]:443/", "https://[0:0::1]"));
	assert_false(petrel_url_same_server("http://127.0.0.1:8080", "http://127.0.0.1:8081"));
	assert_false(petrel_url_same_server("http://127.0.0.1:443", "https://127.0.0.1:443"));
	assert_false(petrel_url_same_server("http://127.0.0.1", "http://127.0.0.2"));
	assert_int_equal(petrel_url_origin("HTTPS://Builds.Example.ORG/a/./b", o, sizeof(o)), 0);
	assert_string_equal(o, "https://builds.example.org:443");
	assert_int_equal(petrel_url_origin("http://h:8080/.", o, sizeof(o)), 0);
	assert_string_equal(o, "http://h:8080");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(devices_covered),
		cmocka_unit_test(devices_missing),
		cmocka_unit_test(abi),
		cmocka_unit_test(same_server),
	};

	return cmocka_run_group_tests_name("preflight", tests, NULL, NULL);
}
