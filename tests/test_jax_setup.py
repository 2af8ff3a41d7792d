from hbbatch import jax_setup


def test_jax_setup__adds_devices_vector_width_and_copy_insertion_but_keeps_the_users_flags():
    assert jax_setup.xla_flags("", 2, True) == ("--xla_force_host_platform_device_count=2 "
                                                "--xla_cpu_prefer_vector_width=512 "
                                                "--xla_cpu_copy_insertion_use_region_analysis=true")
    assert jax_setup.xla_flags("", 4, False) == ("--xla_force_host_platform_device_count=4 "
                                                 "--xla_cpu_copy_insertion_use_region_analysis=true")
    mine = ("--xla_force_host_platform_device_count=1 --xla_cpu_prefer_vector_width=256 "
            "--xla_cpu_copy_insertion_use_region_analysis=false")
    assert jax_setup.xla_flags(mine, 8, True) == mine


def test_jax_setup__configure_sets_the_environment_it_is_given():
    env = {"JAX_ENABLE_X64": "0"}
    assert jax_setup.configure(env)
    assert "--xla_force_host_platform_device_count=" in env["XLA_FLAGS"]
    assert env["JAX_ENABLE_X64"] == "0"   # the user's value wins


def test_jax_setup__reads_avx512_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\n")
    assert jax_setup.has_avx512(str(info))
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2\n")
    assert not jax_setup.has_avx512(str(info))
