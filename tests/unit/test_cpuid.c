#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "arch/x86/cpuid.h"

/* A host-like table: vendor leaf, leaf 1 with VMX+MONITOR, PMU leaf, cache leaf, SVM, KVM. */
static void fill(struct cpuid_table *t)
{
	t->nr = 0;
	const struct cpuid_entry e[] = {
	    {0, 0, 0, 0xd, 0x68747541, 0x444d4163, 0x69746e65},
	    {1, 0, 0, 0x00a00f11, 0x00020800, (1u << 5) | (1u << 3) | (1u << 0), 1u << 28},
	    {4, 1, CPUID_FLAG_SIGNIFICANT_INDEX, (3u << 5) | 3, 0, 0, 0},
	    {0xa, 0, 0, 0x07300402, 0, 0, 0},
	    {0x80000001, 0, 0, 0, 0, (1u << 2) | 1, 0},
	    {0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d},
	    {0x40000001, 0, 0, 0xffffffff, 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++)
		assert_int_equal(cpuid_set(t, &e[i]), 0);
}

static void test_policy_filters_and_topology(void **state)
{
	static struct cpuid_table t;
	fill(&t);
	assert_int_equal(cpuid_policy_apply(&t, 2, 4, 1), 0);
	struct cpuid_entry *l1 = cpuid_find(&t, 1, 0);
	assert_non_null(l1);
	assert_int_equal(l1->ebx >> 24, 2);	     /* APIC id */
	assert_int_equal((l1->ebx >> 16) & 0xff, 4); /* logical count */
	assert_int_equal(l1->ecx & (1u << 5), 0);    /* no VMX */
	assert_int_equal(l1->ecx & (1u << 3), 0);    /* no MONITOR */
	assert_true(l1->ecx & (1u << 31));	     /* hypervisor */
	assert_true(l1->ecx & 1u);		     /* other features kept */
	assert_null(cpuid_find(&t, 0xa, 0));	     /* no PMU */
	assert_int_equal(cpuid_find(&t, 0x80000001, 0)->ecx & (1u << 2), 0); /* no SVM */
	struct cpuid_entry *b1 = cpuid_find(&t, 0xb, 1);
	assert_non_null(b1);
	assert_int_equal(b1->ebx, 4);
	assert_int_equal(b1->edx, 2);
	assert_int_equal(b1->eax, 2); /* 4 CPUs need 2 bits */
	assert_int_equal(cpuid_find(&t, 4, 1)->eax >> 26, 3);
	/* KVM features reduced to the kept set (async PF and unknown bits gone). */
	uint32_t kvm = cpuid_find(&t, 0x40000001, 0)->eax;
	assert_int_equal(kvm & (1u << 4), 0);
	assert_true(kvm & (1u << 3));
	assert_int_equal(kvm & (1u << 30), 0);
}

static void test_policy_no_pv_and_bad_args(void **state)
{
	static struct cpuid_table t;
	fill(&t);
	assert_int_equal(cpuid_policy_apply(&t, 0, 1, 0), 0);
	assert_null(cpuid_find(&t, 0x40000000, 0));
	assert_int_equal(cpuid_find(&t, 1, 0)->edx & (1u << 28), 0); /* no HTT with one CPU */
	fill(&t);
	assert_int_equal(cpuid_policy_apply(&t, 4, 4, 1), -EINVAL);
	assert_int_equal(cpuid_policy_apply(&t, 0, 0, 1), -EINVAL);
	t.nr = 0;
	assert_int_equal(cpuid_policy_apply(&t, 0, 1, 1), -EINVAL); /* no leaf 1 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_policy_filters_and_topology),
	    cmocka_unit_test(test_policy_no_pv_and_bad_args),
	};
	return cmocka_run_group_tests_name("cpuid", tests, NULL, NULL);
}
